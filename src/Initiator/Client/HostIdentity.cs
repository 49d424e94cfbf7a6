namespace NvmeMptls.Initiator;

/// <summary>
/// The host's identity as nvme-cli finds it: <c>/etc/nvme/hostnqn</c> and <c>/etc/nvme/hostid</c>, else one
/// UUID-based NQN generated once per process so every controller of this process presents the same host.
/// </summary>
public static class HostIdentity
{
    private const string UuidNqnPrefix = "nqn.2014-08.org.nvmexpress:uuid:";
    private static readonly Lazy<(string Nqn, Guid Id)> Identity = new(Load);

    /// <summary>The host NQN used when none is configured.</summary>
    public static string DefaultHostNqn => Identity.Value.Nqn;

    /// <summary>The host identifier used when none is configured.</summary>
    public static Guid DefaultHostId => Identity.Value.Id;

    /// <summary>Builds <c>nqn.2014-08.org.nvmexpress:uuid:&lt;uuid&gt;</c>.</summary>
    public static string NqnFromUuid(Guid uuid) => UuidNqnPrefix + uuid.ToString("D");

    /// <summary>The UUID inside a UUID-based NQN, if it is one.</summary>
    public static Guid? UuidFromNqn(string nqn) =>
        nqn.StartsWith(UuidNqnPrefix, StringComparison.Ordinal) && Guid.TryParse(nqn.AsSpan(UuidNqnPrefix.Length), out var g) ? g : null;

    private static (string, Guid) Load()
    {
        var nqn = ReadFirstLine("/etc/nvme/hostnqn");
        var idText = ReadFirstLine("/etc/nvme/hostid");
        Guid? id = Guid.TryParse(idText, out var parsed) ? parsed : null;
        if (string.IsNullOrEmpty(nqn) || !nqn.StartsWith("nqn.", StringComparison.Ordinal))
        {
            var uuid = id ?? Guid.NewGuid();
            return (NqnFromUuid(uuid), uuid);
        }

        return (nqn, id ?? UuidFromNqn(nqn) ?? Guid.NewGuid());
    }

    private static string? ReadFirstLine(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return null;
            }

            using var reader = new StreamReader(path);
            return reader.ReadLine()?.Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
