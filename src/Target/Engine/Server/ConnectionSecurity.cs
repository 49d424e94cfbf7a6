using System.Buffers;
using NvmeMptls.Target.Subsystems;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Target.Server;

/// <summary>
/// The TLS step between accept and NVMe/TCP: runs the server handshake on a connection and returns the protected
/// stream (or null to drop the connection).
/// </summary>
public sealed class ConnectionSecurity : IDisposable
{
    private readonly Func<StreamConnection, TargetPortInfo, CancellationToken, ValueTask<StreamConnection?>> _accept;
    private readonly IDisposable? _keys;

    /// <param name="keys">The key store <paramref name="accept"/> reads (a PSK keyring), owned from here on and
    /// disposed, which zeroes the keys, with this object.</param>
    public ConnectionSecurity(Func<StreamConnection, TargetPortInfo, CancellationToken, ValueTask<StreamConnection?>> accept, TlsHandshakeCounters? counters = null,
        IDisposable? keys = null)
    {
        _accept = accept;
        Counters = counters ?? new TlsHandshakeCounters();
        _keys = keys;
    }

    /// <summary>Handshakes by outcome, including plaintext connections refused on TLS-required ports.</summary>
    public TlsHandshakeCounters Counters { get; }

    public ValueTask<StreamConnection?> AcceptAsync(StreamConnection connection, TargetPortInfo port, CancellationToken ct) =>
        _accept(connection, port, ct);

    public void Dispose() => _keys?.Dispose();

    /// <summary>
    /// On a port where TLS is optional, Linux peeks at the first 8 bytes: a plain ICReq header (type 0, HLEN 128,
    /// PLEN 128) means no TLS (reference §1.1). Nothing is consumed.
    /// </summary>
    public static async ValueTask<bool> LooksLikePlainIcReqAsync(StreamConnection connection, CancellationToken ct)
    {
        var input = connection.Input;
        while (true)
        {
            var result = await input.ReadAsync(ct).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= PduCommonHeader.Size || result.IsCompleted)
            {
                var plain = false;
                if (buffer.Length >= PduCommonHeader.Size)
                {
                    Span<byte> ch = stackalloc byte[PduCommonHeader.Size];
                    buffer.Slice(0, PduCommonHeader.Size).CopyTo(ch);
                    var h = PduCommonHeader.Read(ch);
                    plain = h.Type == PduType.ICReq && h.HeaderLength == 128 && h.PduLength == 128;
                }

                input.AdvanceTo(buffer.Start);
                return plain;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
