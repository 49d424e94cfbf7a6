using System.Collections.Concurrent;

namespace NvmeMptls.Target.Server;

/// <summary>Handshake outcomes by reason ("ok", "UnknownIdentity", "PskMismatch", "Timeout", "plaintext-refused"…).</summary>
public sealed class TlsHandshakeCounters
{
    public ConcurrentDictionary<string, long> ByOutcome { get; } = new(StringComparer.Ordinal);

    public void Count(string outcome) => ByOutcome.AddOrUpdate(outcome, 1, static (_, n) => n + 1);

    public long Get(string outcome) => ByOutcome.TryGetValue(outcome, out var n) ? n : 0;
}
