using System.Buffers.Binary;
using System.Text.Json;
using NvmeMptls.Cli.Output;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Cli.Commands;

/// <summary><c>id-ctrl</c>, <c>id-ns</c>, <c>list-ns</c>.</summary>
public static class IdentifyCommands
{
    public static Verb IdCtrl { get; } = new("id-ctrl", "Identify Controller", FabricsOptions.Common(), IdCtrlAsync);

    public static Verb IdNs { get; } = new("id-ns", "Identify Namespace", [.. FabricsOptions.Common(), FabricsOptions.NamespaceId], IdNsAsync);

    public static Verb ListNs { get; } = new("list-ns", "list active namespace ids", FabricsOptions.Common(), ListNsAsync);

    private static async Task<int> IdCtrlAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var json = FabricsOptions.Json(context.Options);
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var raw = await controller.IdentifyRawAsync(IdentifyCns.Controller, 0, cancellationToken).ConfigureAwait(false);
            var id = IdentifyController.Read(raw);
            var fields = new (string Name, object Value)[]
            {
                ("vid", id.VendorId),
                ("ssvid", id.SubsystemVendorId),
                ("sn", id.Serial),
                ("mn", id.Model),
                ("fr", id.Firmware),
                ("rab", raw[IdentifyController.RabOffset]),
                ("ieee", new Oui(id.IeeeOui)),
                ("cmic", id.Cmic),
                ("mdts", id.Mdts),
                ("cntlid", id.ControllerId),
                ("ver", id.Version),
                ("oaes", id.Oaes),
                ("ctratt", id.Ctratt),
                ("cntrltype", id.ControllerType),
                ("aerl", id.Aerl),
                ("lpa", id.Lpa),
                ("elpe", id.Elpe),
                ("kas", id.KeepAliveSupport),
                ("sqes", raw[IdentifyController.SqesOffset]),
                ("cqes", raw[IdentifyController.CqesOffset]),
                ("maxcmd", id.MaxCmd),
                ("nn", id.NamespaceCount),
                ("oncs", id.Oncs),
                ("vwc", id.Vwc),
                ("sgls", id.Sgls),
                ("subnqn", id.SubsystemNqn),
                ("ioccsz", id.Ioccsz),
                ("iorcsz", id.Iorcsz),
                ("icdoff", BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(IdentifyController.IcdoffOffset))),
                ("fcatt", raw[IdentifyController.FcattOffset]),
                ("msdbd", id.Msdbd),
            };
            await PrintAsync(context, json, fields).ConfigureAwait(false);
            return 0;
        }
    }

    private static async Task<int> IdNsAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var json = FabricsOptions.Json(context.Options);
        var nsid = FabricsOptions.Nsid(context.Options);
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var raw = await controller.IdentifyRawAsync(IdentifyCns.Namespace, nsid, cancellationToken).ConfigureAwait(false);
            var ns = IdentifyNamespace.Read(raw);
            var nlbaf = raw[IdentifyNamespace.NlbafOffset];
            var fields = new List<(string, object)>
            {
                ("nsze", ns.BlockCount),
                ("ncap", ns.Capacity),
                ("nuse", ns.Utilization),
                ("nsfeat", ns.Features),
                ("nlbaf", nlbaf),
                ("flbas", raw[IdentifyNamespace.FlbasOffset]),
                ("nmic", ns.Nmic),
                ("dlfeat", ns.Dlfeat),
                ("nguid", Convert.ToHexStringLower(raw.AsSpan(IdentifyNamespace.NguidOffset, 16))),
                ("eui64", Convert.ToHexStringLower(raw.AsSpan(IdentifyNamespace.Eui64Offset, 8))),
            };
            if (json)
            {
                await JsonOutput.WriteAsync(context.StandardOutput, w =>
                {
                    w.WriteStartObject();
                    WriteFields(w, fields);
                    w.WriteStartArray("lbafs");
                    for (var i = 0; i <= Math.Min((int)nlbaf, 63); i++)
                    {
                        var f = raw.AsSpan(IdentifyNamespace.Lbaf0Offset + (i * 4));
                        w.WriteStartObject();
                        w.WriteNumber("ms", BinaryPrimitives.ReadUInt16LittleEndian(f));
                        w.WriteNumber("ds", f[2]);
                        w.WriteNumber("rp", f[3] & 3);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }).ConfigureAwait(false);
                return 0;
            }

            await context.Out.WriteLineAsync($"NVME Identify Namespace {nsid}:").ConfigureAwait(false);
            foreach (var (name, value) in fields)
            {
                await context.Out.WriteLineAsync($"{name,-10}: {Format(value)}").ConfigureAwait(false);
            }

            for (var i = 0; i <= Math.Min((int)nlbaf, 63); i++)
            {
                var f = raw.AsSpan(IdentifyNamespace.Lbaf0Offset + (i * 4));
                var inUse = i == (raw[IdentifyNamespace.FlbasOffset] & 0xF) ? " (in use)" : "";
                await context.Out.WriteLineAsync($"lbaf {i,2} : ms:{BinaryPrimitives.ReadUInt16LittleEndian(f)} lbads:{f[2]} rp:{f[3] & 3}{inUse}").ConfigureAwait(false);
            }

            return 0;
        }
    }

    private static async Task<int> ListNsAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var json = FabricsOptions.Json(context.Options);
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var list = await controller.GetActiveNamespacesAsync(cancellationToken).ConfigureAwait(false);
            if (json)
            {
                await JsonOutput.WriteAsync(context.StandardOutput, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("nsid_list");
                    foreach (var nsid in list)
                    {
                        w.WriteStartObject();
                        w.WriteNumber("nsid", nsid);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }).ConfigureAwait(false);
                return 0;
            }

            for (var i = 0; i < list.Count; i++)
            {
                await context.Out.WriteLineAsync($"[{i,4}]:0x{list[i]:x}").ConfigureAwait(false);
            }

            return 0;
        }
    }

    internal static async Task PrintAsync(VerbContext context, bool json, IReadOnlyList<(string Name, object Value)> fields)
    {
        if (json)
        {
            await JsonOutput.WriteAsync(context.StandardOutput, w =>
            {
                w.WriteStartObject();
                WriteFields(w, fields);
                w.WriteEndObject();
            }).ConfigureAwait(false);
            return;
        }

        foreach (var (name, value) in fields)
        {
            await context.Out.WriteLineAsync($"{name,-10}: {Format(value)}").ConfigureAwait(false);
        }
    }

    internal static void WriteFields(Utf8JsonWriter w, IReadOnlyList<(string Name, object Value)> fields)
    {
        foreach (var (name, value) in fields)
        {
            switch (value)
            {
                case string s:
                    w.WriteString(name, s);
                    break;
                case UInt128 big:
                    w.WriteUInt128(name, big);
                    break;
                case ulong u:
                    w.WriteNumber(name, u);
                    break;
                case Oui oui:
                    w.WriteNumber(name, oui.Value);
                    break;
                default:
                    w.WriteNumber(name, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
                    break;
            }
        }
    }

    private static string Format(object value) => value switch
    {
        string s => s,
        Oui oui => oui.ToString(),
        byte or ushort or uint => $"0x{Convert.ToUInt64(value, System.Globalization.CultureInfo.InvariantCulture):x}",
        _ => Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture) ?? "",
    };

    /// <summary>
    /// An IEEE OUI: nvme-cli prints it as six hex digits, most significant byte first, without 0x
    /// (<c>ieee      : 000000</c>), and as a plain number in JSON.
    /// </summary>
    internal readonly record struct Oui(uint Value)
    {
        public override string ToString() => Value.ToString("x6", System.Globalization.CultureInfo.InvariantCulture);
    }
}
