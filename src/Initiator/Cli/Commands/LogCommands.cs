using System.Buffers.Binary;
using System.Text.Json;
using NvmeMptls.Cli.Output;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Cli.Commands;

/// <summary><c>get-log</c>, <c>smart-log</c>, <c>error-log</c>, <c>get-feature</c>.</summary>
public static class LogCommands
{
    public static Verb GetLog { get; } = new("get-log", "read any log page (raw hex, or binary with --raw-binary)",
    [
        .. FabricsOptions.Common(), FabricsOptions.NamespaceId,
        new("log-id", 'L', true, "log page id", "LID"),
        new("log-len", 'l', true, "bytes to read (multiple of 4)", "LEN"),
        new("lpo", 'O', true, "byte offset into the log", "OFF"),
        new("rae", 'r', false, "retain asynchronous event"),
        new("raw-binary", 'b', false, "write the log to stdout unformatted"),
    ], GetLogAsync);

    public static Verb SmartLog { get; } = new("smart-log", "SMART / health information (log 02h)", [.. FabricsOptions.Common(), FabricsOptions.NamespaceId], SmartLogAsync);

    public static Verb ErrorLog { get; } = new("error-log", "error information entries (log 01h)",
        [.. FabricsOptions.Common(), new("log-entries", 'e', true, "entries to read (default ELPE+1, max 256)", "N")], ErrorLogAsync);

    public static Verb GetFeature { get; } = new("get-feature", "Get Features",
    [
        .. FabricsOptions.Common(), FabricsOptions.NamespaceId,
        new("feature-id", 'f', true, "feature id", "FID"),
        new("sel", 'S', true, "0 current, 1 default, 2 saved, 3 supported capabilities", "SEL"),
        new("cdw11", 'c', true, "command dword 11", "VALUE"),
    ], GetFeatureAsync);

    private static async Task<int> GetLogAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var line = context.Options;
        if (!line.Has("log-id") || !line.Has("log-len"))
        {
            throw new UsageException("--log-id and --log-len are required");
        }

        var lid = (byte)line.GetNumber("log-id", 0, 0, 255);
        var length = (int)line.GetNumber("log-len", 0, 4, 16 * 1024 * 1024);
        if (length % 4 != 0)
        {
            throw new UsageException($"--log-len {length} must be a multiple of 4");
        }

        var offset = (ulong)line.GetNumber("lpo", 0, 0);
        var nsid = line.Has("namespace-id") ? FabricsOptions.Nsid(line) : 0xFFFFFFFF;
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var data = new byte[length];
            await controller.GetLogPageAsync(lid, nsid, offset, data, line.Has("rae"), cancellationToken).ConfigureAwait(false);
            if (line.Has("raw-binary"))
            {
                await context.StandardOutput.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                await context.StandardOutput.FlushAsync(cancellationToken).ConfigureAwait(false);
                return 0;
            }

            await context.Out.WriteLineAsync($"Device:cntlid{controller.ControllerId} log-id:{lid} namespace-id:{nsid:x}").ConfigureAwait(false);
            HexDump(context.Out, data);
            return 0;
        }
    }

    private static async Task<int> SmartLogAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var json = FabricsOptions.Json(context.Options);
        var nsid = context.Options.Has("namespace-id") ? FabricsOptions.Nsid(context.Options) : 0xFFFFFFFF;
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var d = await controller.GetLogPageAsync(LogPageIds.SmartHealth, nsid, 0, 512, cancellationToken).ConfigureAwait(false);
            UInt128 Counter(int at) => BinaryPrimitives.ReadUInt128LittleEndian(d.AsSpan(at));
            var fields = new (string, object)[]
            {
                ("critical_warning", d[0]),
                ("temperature", BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(1))),
                ("avail_spare", d[3]),
                ("spare_thresh", d[4]),
                ("percent_used", d[5]),
                ("data_units_read", Counter(32)),
                ("data_units_written", Counter(48)),
                ("host_read_commands", Counter(64)),
                ("host_write_commands", Counter(80)),
                ("controller_busy_time", Counter(96)),
                ("power_cycles", Counter(112)),
                ("power_on_hours", Counter(128)),
                ("unsafe_shutdowns", Counter(144)),
                ("media_errors", Counter(160)),
                ("num_err_log_entries", Counter(176)),
            };
            if (!json)
            {
                await context.Out.WriteLineAsync($"Smart Log for NVME device:cntlid{controller.ControllerId} namespace-id:{nsid:x}").ConfigureAwait(false);
            }

            await IdentifyCommands.PrintAsync(context, json, fields).ConfigureAwait(false);
            return 0;
        }
    }

    private static async Task<int> ErrorLogAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var json = FabricsOptions.Json(context.Options);
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var count = (int)context.Options.GetNumber("log-entries", controller.Identify.ErrorLogEntries, 1, 256);
            var d = await controller.GetLogPageAsync(LogPageIds.ErrorInformation, 0xFFFFFFFF, 0, count * 64, cancellationToken).ConfigureAwait(false);
            var entries = new List<(string, object)[]>();
            for (var i = 0; i < count; i++)
            {
                var e = d.AsSpan(i * 64, 64);
                entries.Add(
                [
                    ("error_count", BinaryPrimitives.ReadUInt64LittleEndian(e)),
                    ("sqid", BinaryPrimitives.ReadUInt16LittleEndian(e[8..])),
                    ("cmdid", BinaryPrimitives.ReadUInt16LittleEndian(e[10..])),
                    ("status_field", BinaryPrimitives.ReadUInt16LittleEndian(e[12..]) >> 1),
                    ("parm_error_location", BinaryPrimitives.ReadUInt16LittleEndian(e[14..])),
                    ("lba", BinaryPrimitives.ReadUInt64LittleEndian(e[16..])),
                    ("nsid", BinaryPrimitives.ReadUInt32LittleEndian(e[24..])),
                    ("vs", e[28]),
                    ("trtype", e[29]),
                    ("cs", BinaryPrimitives.ReadUInt64LittleEndian(e[32..])),
                    ("trtype_spec_info", BinaryPrimitives.ReadUInt16LittleEndian(e[40..])),
                ]);
            }

            if (json)
            {
                await JsonOutput.WriteAsync(context.StandardOutput, w =>
                {
                    w.WriteStartObject();
                    w.WriteStartArray("errors");
                    foreach (var entry in entries)
                    {
                        w.WriteStartObject();
                        IdentifyCommands.WriteFields(w, entry);
                        w.WriteEndObject();
                    }

                    w.WriteEndArray();
                    w.WriteEndObject();
                }).ConfigureAwait(false);
                return 0;
            }

            await context.Out.WriteLineAsync($"Error Log Entries for device:cntlid{controller.ControllerId} entries:{count}").ConfigureAwait(false);
            for (var i = 0; i < entries.Count; i++)
            {
                await context.Out.WriteLineAsync($"................. Entry[{i,2}]").ConfigureAwait(false);
                await IdentifyCommands.PrintAsync(context, false, entries[i]).ConfigureAwait(false);
            }

            return 0;
        }
    }

    private static async Task<int> GetFeatureAsync(VerbContext context, CancellationToken cancellationToken)
    {
        var line = context.Options;
        if (!line.Has("feature-id"))
        {
            throw new UsageException("--feature-id/-f is required");
        }

        var fid = (byte)line.GetNumber("feature-id", 0, 1, 255);
        var sel = (byte)line.GetNumber("sel", 0, 0, 3);
        var cdw11 = (uint)line.GetNumber("cdw11", 0, 0, uint.MaxValue);
        var nsid = line.Has("namespace-id") ? FabricsOptions.Nsid(line) : 0;
        var controller = await Session.ConnectAdminAsync(context, cancellationToken).ConfigureAwait(false);
        await using (controller.ConfigureAwait(false))
        {
            var value = await controller.GetFeatureAsync(fid, cdw11, nsid, sel, cancellationToken).ConfigureAwait(false);
            await context.Out.WriteLineAsync($"get-feature:0x{fid:x2} (SEL {sel}), Current value:0x{value:x8}").ConfigureAwait(false);
            return 0;
        }
    }

    private static void HexDump(TextWriter output, ReadOnlySpan<byte> data)
    {
        output.WriteLine("       0  1  2  3  4  5  6  7  8  9  a  b  c  d  e  f");
        for (var row = 0; row < data.Length; row += 16)
        {
            var chunk = data.Slice(row, Math.Min(16, data.Length - row));
            var hex = new System.Text.StringBuilder();
            foreach (var b in chunk)
            {
                hex.Append(' ').Append(b.ToString("x2", System.Globalization.CultureInfo.InvariantCulture));
            }

            output.WriteLine($"{row:x4}:{hex}");
        }
    }
}
