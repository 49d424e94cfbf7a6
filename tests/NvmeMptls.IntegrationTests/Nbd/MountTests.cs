using System.Diagnostics;
using System.Security.Cryptography;
using NvmeMptls.Cli.Mount;
using NvmeMptls.Initiator.Nbd;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Nbd;

/// <summary>Mount round trip through the real stack (root, nbdfuse or kernel NBD, loop device, ext4).</summary>
[NonParallelizable]
public sealed class MountTests
{
    private DirectoryInfo _dir = null!;

    [SetUp]
    public void SetUp()
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
        _dir = Directory.CreateTempSubdirectory("mount-");
    }

    [TearDown]
    public void TearDown() => _dir?.Delete(recursive: true);

    [Test]
    public async Task MkfsWriteUnmountMountAgain_FilesIntact()
    {
        var device = new MemoryNamespaceDevice(256L * 1024 * 1024, lbaSize: 4096);
        var socket = Path.Combine(_dir.FullName, "nbd.sock");
        var mnt = Directory.CreateDirectory(Path.Combine(_dir.FullName, "mnt")).FullName;
        var state = Path.Combine(_dir.FullName, "state");
        await using var server = new NbdServer(new NbdServerOptions { SocketPath = socket }, [device]);
        await server.StartAsync();
        var manager = new MountManager();

        var mounted = await manager.MountAsync(new MountRequest { MountPoint = mnt, Mkfs = "ext4", SocketPath = socket, StateDirectory = state }, CancellationToken.None);
        var hashes = new Dictionary<string, byte[]>();
        try
        {
            var random = new Random(7);
            for (var i = 0; i < 5; i++)
            {
                var data = new byte[(i + 1) * 1_000_003];
                random.NextBytes(data);
                var name = $"file{i}.bin";
                await File.WriteAllBytesAsync(Path.Combine(mnt, name), data);
                hashes[name] = SHA256.HashData(data);
            }
        }
        finally
        {
            await manager.UnmountAsync(mnt, state);
        }

        Assert.That(File.Exists(Path.Combine(mnt, "file0.bin")), Is.False, "unmounted");
        Assert.That(Directory.GetFiles(state), Is.Empty);
        TestContext.Out.WriteLine($"mounted via {mounted.Method} on {mounted.Device}");

        await manager.MountAsync(new MountRequest { MountPoint = mnt, SocketPath = socket, StateDirectory = state }, CancellationToken.None);
        try
        {
            foreach (var (name, hash) in hashes)
            {
                Assert.That(SHA256.HashData(await File.ReadAllBytesAsync(Path.Combine(mnt, name))), Is.EqualTo(hash), name);
            }
        }
        finally
        {
            await manager.UnmountAsync(mnt, state);
        }
    }

    [Test]
    public async Task ServerThatNeverListens_RollsBackAndKillsIt()
    {
        var mnt = Directory.CreateDirectory(Path.Combine(_dir.FullName, "mnt")).FullName;
        var state = Path.Combine(_dir.FullName, "state");
        Process? started = null;
        var request = new MountRequest
        {
            MountPoint = mnt,
            SocketPath = Path.Combine(_dir.FullName, "never.sock"),
            StateDirectory = state,
            ReadyTimeout = TimeSpan.FromSeconds(1),
            StartServer = args =>
            {
                Assert.That(args, Does.Contain("--socket"));
                started = Process.Start("sleep", "600");
                return started;
            },
        };

        var ex = Assert.ThrowsAsync<MountException>(() => new MountManager().MountAsync(request, CancellationToken.None));
        Assert.That(ex!.Message, Does.Contain("did not listen"));
        Assert.That(started, Is.Not.Null);
        Assert.That(started!.HasExited, Is.True, "the server process was stopped by the rollback");
        Assert.That(Directory.Exists(state) ? Directory.GetFiles(state) : [], Is.Empty);
        await Task.CompletedTask;
    }

    [Test]
    public void Unmount_OfUnknownMountpoint_FailsClearly()
    {
        var ex = Assert.ThrowsAsync<MountException>(() => new MountManager().UnmountAsync(_dir.FullName, Path.Combine(_dir.FullName, "state")));
        Assert.That(ex!.Message, Does.Contain("not mounted by nvme-mptls"));
    }
}
