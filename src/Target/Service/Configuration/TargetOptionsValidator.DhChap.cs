using NvmeMptls.Crypto.Auth;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Target.Configuration;

internal static partial class TargetOptionsValidator
{
    private static void ValidateDhChap(TargetOptions options, List<string> errors)
    {
        for (int h = 0; h < options.DhChap.Hosts.Length; h++)
        {
            DhChapHostOptions entry = options.DhChap.Hosts[h];
            string key = $"{Root}:DhChap:Hosts:{h}";
            string? host = CheckSecret(entry.Secret, entry.SecretFile, key, "Secret", required: true, errors);
            string? controller = CheckSecret(entry.ControllerSecret, entry.ControllerSecretFile, key, "ControllerSecret", required: false, errors);
            // The kernel host refuses a controller secret equal to its own: it would let a host answer for the controller.
            if (host is not null && string.Equals(host, controller, StringComparison.Ordinal))
            {
                errors.Add($"{key}:ControllerSecret: must differ from the host secret");
            }

            if (entry.HostNqn is not null && Nqn.Check(entry.HostNqn) is { } hostProblem)
            {
                errors.Add($"{key}:HostNqn: {hostProblem}");
            }

            if (entry.SubsystemNqn is not null && !options.Subsystems.Any(s => s.Nqn == entry.SubsystemNqn))
            {
                errors.Add($"{key}:SubsystemNqn: must name a configured subsystem (was '{entry.SubsystemNqn}')");
            }

            foreach (string hash in entry.Hashes)
            {
                if (!DhChapNames.TryParseHash(hash, out _))
                {
                    errors.Add($"{key}:Hashes: must be sha256, sha384 or sha512 (was '{hash}')");
                }
            }

            foreach (string group in entry.DhGroups)
            {
                if (!DhChapNames.TryParseGroup(group, out _))
                {
                    errors.Add($"{key}:DhGroups: must be null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144 or ffdhe8192 (was '{group}')");
                }
            }

            if (entry.SecureConcat)
            {
                CheckSecureConcat(options, entry, key, errors);
            }
        }
    }

    /// <summary>
    /// SecureConcat needs what a generated PSK needs (TP 8018): a DH group other than null and SHA-256 or SHA-384 among
    /// those accepted, and a port where the host can both authenticate in the clear and come back with TLS.
    /// </summary>
    private static void CheckSecureConcat(TargetOptions options, DhChapHostOptions entry, string key, List<string> errors)
    {
        if (!entry.DhGroups.IsEmpty && entry.DhGroups.All(g => g == "null"))
        {
            errors.Add($"{key}:SecureConcat: needs a DH group other than null in {key}:DhGroups (the generated PSK comes from the DH session key)");
        }

        if (!entry.Hashes.IsEmpty && !entry.Hashes.Any(h => h is "sha256" or "sha384"))
        {
            errors.Add($"{key}:SecureConcat: needs sha256 or sha384 in {key}:Hashes (the PSK digest is defined for those only)");
        }

        if (!options.Ports.Any(p => p.Tls == TlsMode.Optional))
        {
            errors.Add($"{key}:SecureConcat: needs a port with Tls 'optional' (the host authenticates in the clear, then reconnects with TLS)");
        }
    }

    /// <summary>Checks one secret given inline or as a file; returns its text when it is valid.</summary>
    private static string? CheckSecret(string? inline, string? file, string key, string name, bool required, List<string> errors)
    {
        if (inline is not null && file is not null)
        {
            errors.Add($"{key}: set at most one of {name} (the DHHC-1:XX:...: string) or {name}File (a file holding it)");
            return null;
        }

        if (inline is null && file is null)
        {
            if (required)
            {
                errors.Add($"{key}: set {name} (the DHHC-1:XX:...: string) or {name}File (a file holding it)");
            }

            return null;
        }

        string text;
        string where;
        if (inline is not null)
        {
            text = inline;
            where = $"{key}:{name}";
        }
        else if (!File.Exists(file))
        {
            errors.Add($"{key}:{name}File: file '{file}' does not exist");
            return null;
        }
        else if (FileModeProblem(file!) is { } modeProblem)
        {
            errors.Add($"{key}:{name}File: '{file}' {modeProblem}");
            return null;
        }
        else
        {
            text = File.ReadAllText(file!).Trim();
            where = $"{key}:{name}File: contents of '{file}'";
        }

        if (!DhChapSecret.TryParse(text, out var secret, out string? problem))
        {
            errors.Add($"{where}: {problem}");
            return null;
        }

        secret.Dispose();
        return text;
    }

    /// <summary>A key file must be readable only by the service user and owned by it (<see cref="KeyFilePermissions"/>).</summary>
    private static string? FileModeProblem(string file) => KeyFilePermissions.Problem(file);
}
