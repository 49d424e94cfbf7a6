using System.Collections.Concurrent;

namespace NvmeMptls.Target.Server;

/// <summary>
/// Handshake outcomes by reason ("ok", "UnknownIdentity", "PskMismatch", "Timeout", "plaintext-refused"…), and
/// successful handshakes by PSK form ("v0-rfc", "v0-compat", "v1-rfc", "v1-compat": identity version and the
/// derivation framing the PSK binder verified).
/// </summary>
public sealed class TlsHandshakeCounters
{
    public ConcurrentDictionary<string, long> ByOutcome { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, long> ByForm { get; } = new(StringComparer.Ordinal);

    public void Count(string outcome) => ByOutcome.AddOrUpdate(outcome, 1, static (_, n) => n + 1);

    public void CountForm(string form) => ByForm.AddOrUpdate(form, 1, static (_, n) => n + 1);

    public long Get(string outcome) => ByOutcome.TryGetValue(outcome, out var n) ? n : 0;

    public long GetForm(string form) => ByForm.TryGetValue(form, out var n) ? n : 0;
}
