using System.Collections.Immutable;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// In-band authentication (section "Target:DhChap"): which hosts must prove a DH-HMAC-CHAP secret on every queue.
/// An empty list (the default) authenticates nobody.
/// </summary>
public sealed record DhChapOptions
{
    public ImmutableArray<DhChapHostOptions> Hosts { get; init; } = [];
}

/// <summary>
/// The secrets of one host (HostNqn null: every host) on one subsystem (SubsystemNqn null: every subsystem), each in
/// the <c>DHHC-1:XX:...:</c> form, inline or in a file only the service user may read. With a controller secret the
/// target proves itself to hosts that ask for bidirectional authentication. Hashes and DhGroups, in the target's
/// order of preference, limit what it accepts (default: sha256, sha384, sha512; ffdhe2048 … ffdhe8192, then null).
/// </summary>
public sealed record DhChapHostOptions
{
    public string? HostNqn { get; init; }

    public string? SubsystemNqn { get; init; }

    public string? Secret { get; init; }

    public string? SecretFile { get; init; }

    public string? ControllerSecret { get; init; }

    public string? ControllerSecretFile { get; init; }

    public ImmutableArray<string> Hashes { get; init; } = [];

    public ImmutableArray<string> DhGroups { get; init; } = [];

    /// <summary>
    /// Require secure channel concatenation (TP 8018, <c>nvme connect --concat</c>): the plain admin Connect answers ATR
    /// and ASCR, the host must negotiate SC_C NEWTLSPSK with a DH group and SHA-256/384, then reconnects admin and I/O
    /// queues with TLS under the generated PSK (needs a port with Tls "optional"). Default false: a host may still ask.
    /// </summary>
    public bool SecureConcat { get; init; }

    /// <summary>The host secret: <see cref="Secret"/>, or the trimmed contents of <see cref="SecretFile"/>.</summary>
    public string ReadSecret() => Secret ?? File.ReadAllText(SecretFile ?? throw new InvalidOperationException("no Secret or SecretFile")).Trim();

    /// <summary>The controller secret, or null when none is configured.</summary>
    public string? ReadControllerSecret() => ControllerSecret ?? (ControllerSecretFile is null ? null : File.ReadAllText(ControllerSecretFile).Trim());

    // Keep key material out of logs and exception messages.
    public override string ToString() =>
        $"DhChapHostOptions {{ HostNqn = {HostNqn ?? "null"}, SubsystemNqn = {SubsystemNqn ?? "null"}, Secret = {(Secret is null ? "null" : "<redacted>")}, " +
        $"SecretFile = {SecretFile ?? "null"}, ControllerSecret = {(ControllerSecret is null ? "null" : "<redacted>")}, ControllerSecretFile = {ControllerSecretFile ?? "null"}, SecureConcat = {SecureConcat} }}";
}
