using System.Security.Cryptography;
using System.Text;
using NvmeMptls.Cli.Mount;
using NvmeMptls.IntegrationTests.TestKit;

namespace NvmeMptls.IntegrationTests.Nbd;

/// <summary>
/// The mount round trip as a user runs it: the target as its own process with a file namespace, the built
/// <c>nvme-mptls</c> CLI doing <c>mount --mkfs ext4</c> and <c>umount</c>, and the target restarted in between.
/// </summary>
[NonParallelizable]
public sealed class RealMountTests
{
    private const string Nqn = "nqn.2026-01.io.nvmemptls:default";

    [Test]
    public async Task MountMkfsWriteUmount_RestartTarget_MountAgain_FilesIntact()
    {
        if (Environment.UserName != "root")
        {
            Assert.Ignore("mount needs root");
        }

        var (method, reason) = MountManager.Probe();
        if (method is null)
        {
            Assert.Ignore(reason);
        }

        ToolRunner.Require("mkfs.ext4", "e2fsprogs");
        var cli = Path.Combine(TargetRunner.RepositoryRoot(), "src", "Initiator", "Cli", "bin", "Release", "net10.0", "nvme-mptls.dll");
        if (!File.Exists(cli))
        {
            Assert.Ignore($"{cli} is missing: build the solution in Release first");
        }

        var dir = Directory.CreateTempSubdirectory("realmount-");
        var mnt = Directory.CreateDirectory(Path.Combine(dir.FullName, "mnt")).FullName;
        var image = Path.Combine(dir.FullName, "ns1.img");
        var port = TargetProcess.FreePort();
        string[] targetArgs = ["--listen", $"127.0.0.1:{port}", "--discovery", "none", "--metrics", "off", "--file-ns", $"{image}:256MiB"];
        string[] connect = ["-a", "127.0.0.1", "-s", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", Nqn];
        var transcript = new StringBuilder();
        var mounted = false;

        async Task<ToolRunner.Result> Cli(params string[] args)
        {
            var result = await ToolRunner.RunAsync("dotnet", [cli, .. args], TimeSpan.FromMinutes(2));
            transcript.AppendLine("$ nvme-mptls " + string.Join(' ', args)).Append(result.Stdout).Append(result.Stderr).AppendLine($"(exit {result.ExitCode})");
            return result;
        }

        try
        {
            var hashes = new Dictionary<string, byte[]>();
            await using (var target = TargetProcess.Start(targetArgs))
            {
                await target.WaitReadyAsync(TimeSpan.FromSeconds(60));
                var mount = await Cli(["mount", mnt, "--mkfs", "ext4", .. connect]);
                Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
                mounted = true;
                var random = new Random(5);
                for (var i = 0; i < 6; i++)
                {
                    var data = new byte[(i + 1) * 3_000_017];
                    random.NextBytes(data);
                    var name = $"dir{i % 2}/file{i}.bin";
                    Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(mnt, name))!);
                    await File.WriteAllBytesAsync(Path.Combine(mnt, name), data);
                    hashes[name] = SHA256.HashData(data);
                    transcript.AppendLine($"$ cp {data.Length} random bytes to {name}   # sha256 {Convert.ToHexString(hashes[name])[..16]}…");
                }

                var umount = await Cli("umount", mnt);
                Assert.That(umount.ExitCode, Is.Zero, umount.ToString());
                mounted = false;
                Assert.That(File.Exists(Path.Combine(mnt, "dir0/file0.bin")), Is.False, "unmounted");
                target.Terminate();
                Assert.That(await target.WaitForExitAsync(TimeSpan.FromSeconds(30)), Is.Zero, target.StandardOutput + target.StandardError);
                transcript.AppendLine("$ kill -TERM <target>; start the target again on the same file");
            }

            await using (var target = TargetProcess.Start(targetArgs))
            {
                await target.WaitReadyAsync(TimeSpan.FromSeconds(60));
                var mount = await Cli(["mount", mnt, .. connect]);
                Assert.That(mount.ExitCode, Is.Zero, mount.ToString());
                mounted = true;
                foreach (var (name, hash) in hashes)
                {
                    var actual = SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(mnt, name)));
                    transcript.AppendLine($"$ sha256sum {name}   # {Convert.ToHexString(actual)[..16]}…");
                    Assert.That(actual, Is.EqualTo(hash), name);
                }

                var umount = await Cli("umount", mnt);
                Assert.That(umount.ExitCode, Is.Zero, umount.ToString());
                mounted = false;
            }
        }
        finally
        {
            if (mounted)
            {
                await ToolRunner.RunAsync("dotnet", [cli, "umount", mnt], TimeSpan.FromMinutes(1));
            }

            TestContext.Out.WriteLine(transcript.ToString());
            dir.Delete(recursive: true);
        }
    }
}
