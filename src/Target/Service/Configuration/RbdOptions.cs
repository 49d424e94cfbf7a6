using Microsoft.Extensions.Configuration;

namespace NvmeMptls.Target.Configuration;

/// <summary>
/// The Ceph RBD image behind an "rbd" namespace (section Namespaces:N:Rbd). The namespace is the whole image and
/// follows it when it is resized; the namespace's Size is not used.
/// </summary>
public sealed record RbdOptions
{
    /// <summary>RADOS pool of the image.</summary>
    public string Pool { get; init; } = "";

    /// <summary>RBD image name.</summary>
    public string Image { get; init; } = "";

    /// <summary>RADOS namespace inside the pool (as `rbd --namespace`); null for the pool's default namespace.</summary>
    public string? RadosNamespace { get; init; }

    /// <summary>ceph.conf path; null searches librados' defaults ($CEPH_CONF, /etc/ceph/ceph.conf).</summary>
    public string? CephConf { get; init; }

    /// <summary>Ceph client id without "client." (e.g. nvmeof-gw1); null means admin.</summary>
    public string? CephId { get; init; }

    /// <summary>Keyring path; null takes the one ceph.conf names.</summary>
    public string? Keyring { get; init; }

    /// <summary>librbd's client cache (rbd_cache); null keeps ceph.conf's, except in a gateway group, where it is off.</summary>
    public bool? Cache { get; init; }

    /// <summary>Parses "POOL/IMAGE" or "POOL/NAMESPACE/IMAGE" (the --rbd-ns and `rbd` CLI form).</summary>
    public static bool TryParseSpec(string spec, out RbdOptions options)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string[] parts = spec.Split('/');
        options = parts.Length switch
        {
            2 => new RbdOptions { Pool = parts[0], Image = parts[1] },
            3 => new RbdOptions { Pool = parts[0], RadosNamespace = parts[1], Image = parts[2] },
            _ => new RbdOptions(),
        };
        return parts.Length is 2 or 3 && Array.TrueForAll(parts, p => p.Length > 0);
    }

    internal static RbdOptions? Read(IConfigurationSection namespaceSection, List<string>? errors = null)
    {
        IConfigurationSection section = namespaceSection.GetSection("Rbd");
        if (!section.Exists())
        {
            return null;
        }

        return new RbdOptions
        {
            Pool = Text(section, "Pool") ?? "",
            Image = Text(section, "Image") ?? "",
            RadosNamespace = Text(section, "RadosNamespace"),
            CephConf = Text(section, "CephConf"),
            CephId = Text(section, "CephId"),
            Keyring = Text(section, "Keyring"),
            Cache = ReadCache(section, errors),
        };
    }

    private static bool? ReadCache(IConfigurationSection section, List<string>? errors)
    {
        string? text = Text(section, "Cache");
        if (text is null)
        {
            return null;
        }

        if (bool.TryParse(text, out bool cache))
        {
            return cache;
        }

        errors?.Add($"{section.Path}:Cache: must be true or false (was '{text}')");
        return null;
    }

    private static string? Text(IConfigurationSection section, string key) =>
        string.IsNullOrWhiteSpace(section[key]) ? null : section[key]!.Trim();

    /// <summary>Checks an rbd namespace's keys; <paramref name="key"/> is the namespace's configuration path.</summary>
    internal static void Validate(NamespaceOptions ns, string key, List<string> errors)
    {
        if (ns.Backing != NamespaceBacking.Rbd)
        {
            if (ns.Rbd is not null)
            {
                errors.Add($"{key}:Rbd: is only used with rbd backing (Backing is {ns.Backing.ToString().ToLowerInvariant()})");
            }

            return;
        }

        if (ns.Rbd is not { } rbd)
        {
            errors.Add($"{key}:Rbd: is required for rbd backing (Pool and Image, optionally RadosNamespace, CephConf, CephId, Keyring)");
            return;
        }

        CheckName(rbd.Pool, $"{key}:Rbd:Pool", "a RADOS pool name", required: true, errors);
        CheckName(rbd.Image, $"{key}:Rbd:Image", "an RBD image name", required: true, errors);
        CheckName(rbd.RadosNamespace, $"{key}:Rbd:RadosNamespace", "a RADOS namespace name", required: false, errors);
        if (rbd.CephId is { } id && (id.StartsWith("client.", StringComparison.Ordinal) || !IsName(id)))
        {
            errors.Add($"{key}:Rbd:CephId: must be a client id without 'client.' and without '/', '@' or whitespace, e.g. admin (was '{id}')");
        }

        CheckFile(rbd.CephConf, $"{key}:Rbd:CephConf", "a ceph.conf", errors);
        CheckFile(rbd.Keyring, $"{key}:Rbd:Keyring", "a keyring", errors);
    }

    private static void CheckName(string? value, string key, string what, bool required, List<string> errors)
    {
        if (string.IsNullOrEmpty(value))
        {
            if (required)
            {
                errors.Add($"{key}: is required for rbd backing ({what})");
            }
        }
        else if (!IsName(value))
        {
            errors.Add($"{key}: must be {what} without '/', '@' or whitespace (was '{value}')");
        }
    }

    private static bool IsName(string value)
    {
        foreach (char c in value)
        {
            if (c is '/' or '@' || char.IsWhiteSpace(c) || char.IsControl(c))
            {
                return false;
            }
        }

        return value.Length > 0;
    }

    private static void CheckFile(string? path, string key, string what, List<string> errors)
    {
        if (path is not null && !File.Exists(path))
        {
            errors.Add($"{key}: must be the path of {what} file that exists (was '{path}')");
        }
    }
}
