using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace NvmeMptls.Cli.Mount;

/// <summary>What one mount set up, so a later <c>umount</c> (another process) can take it down in reverse.</summary>
public sealed record MountState
{
    public const string DefaultDirectory = "/run/nvme-mptls/mounts";

    public required string MountPoint { get; init; }

    public required string SocketPath { get; init; }

    /// <summary>"nbd" (kernel NBD device via nbd-client) or "nbdfuse" (FUSE file plus loop device).</summary>
    public required string Method { get; init; }

    /// <summary>The block device mounted: /dev/nbdN or /dev/loopN.</summary>
    public required string Device { get; init; }

    public int? ServerPid { get; init; }

    public string? FuseDirectory { get; init; }

    public int? FusePid { get; init; }

    public DateTimeOffset Created { get; init; } = DateTimeOffset.UtcNow;

    /// <summary>State file of a mountpoint: a hash of its full path, so any spelling of the path finds it.</summary>
    public static string PathFor(string directory, string mountPoint)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(mountPoint));
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(full)))[..16];
        return Path.Combine(directory, hash + ".json");
    }

    public static MountState? Load(string directory, string mountPoint)
    {
        var path = PathFor(directory, mountPoint);
        return File.Exists(path) ? JsonSerializer.Deserialize(File.ReadAllText(path), MountStateJson.Default.MountState) : null;
    }

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = PathFor(directory, MountPoint);
        var temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, MountStateJson.Default.MountState));
        File.Move(temp, path, overwrite: true);
    }
}

[System.Text.Json.Serialization.JsonSourceGenerationOptions(WriteIndented = true)]
[System.Text.Json.Serialization.JsonSerializable(typeof(MountState))]
internal sealed partial class MountStateJson : System.Text.Json.Serialization.JsonSerializerContext
{
}
