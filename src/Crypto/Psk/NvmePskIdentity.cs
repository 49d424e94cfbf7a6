using System.Diagnostics.CodeAnalysis;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Crypto.Psk;

/// <summary>
/// An NVMe TLS PSK identity (reference §4.3 step 4): <c>NVMe&lt;v&gt;&lt;R|G&gt;&lt;cc&gt; &lt;hostnqn&gt; &lt;subsysnqn&gt;[ &lt;digest&gt;]</c>,
/// v = 0 (no digest) or 1 (digest), R = retained (configured) PSK, G = generated (secure concatenation).
/// </summary>
public sealed record NvmePskIdentity(int Version, bool Generated, NvmePskHash Hash, string HostNqn, string SubsystemNqn, string? Digest)
{
    public override string ToString()
    {
        string head = $"NVMe{Version}{(Generated ? 'G' : 'R')}{(int)Hash:D2} {HostNqn} {SubsystemNqn}";
        return Version == 0 ? head : $"{head} {Digest}";
    }

    /// <summary>Parses an identity string; false (with a reason) for anything not in the NVMe form.</summary>
    public static bool TryParse(string text, [NotNullWhen(true)] out NvmePskIdentity? identity, out string reason)
    {
        identity = null;
        string[] parts = text.Split(' ');
        if (parts.Length < 3 || parts[0].Length != 8 || !parts[0].StartsWith("NVMe", StringComparison.Ordinal))
        {
            reason = "identity does not start with NVMe<v><R|G><cc> <hostnqn> <subsysnqn>";
            return false;
        }
        string tag = parts[0];
        int version = tag[4] - '0';
        if (version is not (0 or 1))
        {
            reason = $"unknown identity version '{tag[4]}'";
            return false;
        }
        if (tag[5] is not ('R' or 'G'))
        {
            reason = $"unknown PSK type '{tag[5]}'";
            return false;
        }
        NvmePskHash hash = tag.AsSpan(6, 2) switch
        {
            "01" => NvmePskHash.Sha256,
            "02" => NvmePskHash.Sha384,
            _ => NvmePskHash.None,
        };
        if (hash == NvmePskHash.None)
        {
            reason = $"unknown hash '{tag[6..]}'";
            return false;
        }
        int expectedParts = version == 0 ? 3 : 4;
        if (parts.Length != expectedParts)
        {
            reason = $"a version {version} identity has {expectedParts} space-separated fields, got {parts.Length}";
            return false;
        }
        // The same rule as the Connect data's HOSTNQN: Nqn.CheckPeer (NVMe Base 2.0 §4.5), not the stricter form our
        // configuration follows: the derivation test vectors (reference §4.8) use "nqn.psk-test-host".
        if (parts[1].Length == 0)
        {
            reason = "empty host NQN field (two spaces after the NVMe<v><R|G><cc> tag)";
            return false;
        }
        if (parts[2].Length == 0)
        {
            reason = "empty subsystem NQN field (two spaces after the host NQN)";
            return false;
        }
        if (Nqn.CheckPeer(parts[1]) is { } hostProblem)
        {
            reason = $"host NQN field {hostProblem}";
            return false;
        }
        if (Nqn.CheckPeer(parts[2]) is { } subsysProblem)
        {
            reason = $"subsystem NQN field {subsysProblem}";
            return false;
        }
        string? digest = version == 1 ? parts[3] : null;
        if (digest is not null && digest.Length != (hash == NvmePskHash.Sha256 ? 44 : 64))
        {
            reason = $"digest length {digest.Length} does not match hash {(int)hash:D2}";
            return false;
        }
        identity = new NvmePskIdentity(version, tag[5] == 'G', hash, parts[1], parts[2], digest);
        reason = "";
        return true;
    }
}
