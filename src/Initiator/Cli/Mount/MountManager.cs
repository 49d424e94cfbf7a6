using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace NvmeMptls.Cli.Mount;

/// <summary>
/// Mounts an NBD export as a filesystem and takes it down again. Uses the kernel NBD driver when
/// <c>/sys/module/nbd</c> exists and <c>nbd-client</c> is installed; otherwise nbdfuse exposes the export as a
/// file, <c>losetup</c> turns that into a block device. Every step registers its undo; any failure runs the undo
/// list backwards so nothing stays mounted, attached or running. The result is recorded in a state file that
/// <see cref="UnmountAsync"/> reads.
/// </summary>
public sealed partial class MountManager
{
    private readonly ILogger _logger;

    public MountManager(ILogger? logger = null)
    {
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Which path <see cref="MountAsync"/> would take here, or why none can work.</summary>
    public static (string? Method, string Reason) Probe()
    {
        if (Directory.Exists("/sys/module/nbd") && Which("nbd-client") is not null)
        {
            return ("nbd", "kernel NBD module and nbd-client");
        }

        if (Which("nbdfuse") is null)
        {
            return (null, "no kernel NBD module (/sys/module/nbd) with nbd-client, and nbdfuse is not installed (apt-get install nbdfuse)");
        }

        if (!File.Exists("/dev/fuse"))
        {
            return (null, "nbdfuse is installed but /dev/fuse is missing");
        }

        if (!File.Exists("/dev/loop-control"))
        {
            return (null, "nbdfuse is installed but loop devices are unavailable (/dev/loop-control missing)");
        }

        return ("nbdfuse", "nbdfuse and a loop device");
    }

    public async Task<MountState> MountAsync(MountRequest request, CancellationToken cancellationToken)
    {
        var (method, reason) = Probe();
        if (method is null)
        {
            throw new MountException("cannot mount: " + reason);
        }

        var mountPoint = Path.GetFullPath(request.MountPoint);
        if (!Directory.Exists(mountPoint))
        {
            throw new MountException($"mountpoint {mountPoint} does not exist");
        }

        if (MountState.Load(request.StateDirectory, mountPoint) is not null)
        {
            throw new MountException($"{mountPoint} is already mounted by nvme-mptls (state {MountState.PathFor(request.StateDirectory, mountPoint)})");
        }

        Directory.CreateDirectory(request.StateDirectory);
        var baseName = Path.GetFileNameWithoutExtension(MountState.PathFor(request.StateDirectory, mountPoint));
        var socket = request.SocketPath ?? Path.Combine(Path.GetDirectoryName(request.StateDirectory) ?? "/run/nvme-mptls", baseName + ".sock");
        var undo = new Stack<(string What, Func<Task> Action)>();
        try
        {
            int? serverPid = null;
            if (request.StartServer is { } start)
            {
                var server = start([.. request.ServerArguments, "--socket", socket]);
                serverPid = server.Id;
                undo.Push(("stop NBD server", () => StopProcessAsync(server.Id, TimeSpan.FromSeconds(10))));
                await WaitForSocketAsync(socket, server, request.ReadyTimeout, cancellationToken);
            }
            else if (!await CanConnectAsync(socket, cancellationToken))
            {
                throw new MountException($"no NBD server answers on {socket}");
            }

            string device;
            string? fuseDir = null;
            int? fusePid = null;
            if (method == "nbd")
            {
                device = FreeNbdDevice();
                await RunAsync("nbd-client", ["-unix", socket, device, "-N", request.ExportName], cancellationToken);
                undo.Push(("disconnect " + device, () => RunAsync("nbd-client", ["-d", device], CancellationToken.None)));
            }
            else
            {
                fuseDir = Path.Combine(request.StateDirectory, baseName + ".fuse");
                Directory.CreateDirectory(fuseDir);
                undo.Push(("remove " + fuseDir, () => DeleteDirectoryAsync(fuseDir)));
                var pidFile = Path.Combine(request.StateDirectory, baseName + ".fuse.pid");
                File.Delete(pidFile);
                var uri = $"nbd+unix:///{request.ExportName}?socket={socket}";
                var fuse = StartBackground("nbdfuse", ["-P", pidFile, Path.Combine(fuseDir, "nvme"), uri], Path.ChangeExtension(socket, ".fuse.log"));
                fusePid = fuse.Id;
                undo.Push(("stop nbdfuse", () => StopFuseAsync(fuseDir, fuse.Id)));
                await WaitForFileAsync(pidFile, fuse, request.ReadyTimeout, cancellationToken);
                File.Delete(pidFile);
                var loop = await RunAsync("losetup", ["-f", "--show", Path.Combine(fuseDir, "nvme")], cancellationToken);
                device = loop.Trim();
                undo.Push(("detach " + device, () => RunAsync("losetup", ["-d", device], CancellationToken.None)));
            }

            if (request.Mkfs == "ext4")
            {
                await RunAsync("mkfs.ext4", ["-F", "-q", device], cancellationToken);
            }

            string[] mountArgs = request.MountOptions is { } options ? ["-o", options, device, mountPoint] : [device, mountPoint];
            await RunAsync("mount", mountArgs, cancellationToken);
            undo.Push(("unmount " + mountPoint, () => RunAsync("umount", [mountPoint], CancellationToken.None)));

            var state = new MountState
            {
                MountPoint = mountPoint,
                SocketPath = socket,
                Method = method,
                Device = device,
                ServerPid = serverPid,
                FuseDirectory = fuseDir,
                FusePid = fusePid,
            };
            state.Save(request.StateDirectory);
            MountLog.Mounted(_logger, mountPoint, device, method);
            return state;
        }
        catch (Exception ex)
        {
            await RollBackAsync(undo);
            throw ex as MountException ?? new MountException($"mount of {mountPoint} failed: {ex.Message}", ex);
        }
    }

    /// <summary>Flushes and takes down what <see cref="MountAsync"/> recorded for <paramref name="mountPoint"/>.</summary>
    public async Task UnmountAsync(string mountPoint, string stateDirectory = MountState.DefaultDirectory, CancellationToken cancellationToken = default)
    {
        var state = MountState.Load(stateDirectory, mountPoint)
            ?? throw new MountException($"{Path.GetFullPath(mountPoint)} was not mounted by nvme-mptls (no state in {stateDirectory})");
        await RunAsync("sync", [], cancellationToken);
        await RunAsync("umount", [state.MountPoint], cancellationToken);
        await RunAsync("blockdev", ["--flushbufs", state.Device], cancellationToken);
        if (state.Method == "nbd")
        {
            await RunAsync("nbd-client", ["-d", state.Device], cancellationToken);
        }
        else
        {
            await RunAsync("losetup", ["-d", state.Device], cancellationToken);
            if (state.FuseDirectory is { } fuseDir)
            {
                await StopFuseAsync(fuseDir, state.FusePid);
                await DeleteDirectoryAsync(fuseDir);
            }
        }

        if (state.ServerPid is { } pid)
        {
            await StopProcessAsync(pid, TimeSpan.FromSeconds(30));
        }

        File.Delete(MountState.PathFor(stateDirectory, state.MountPoint));
        MountLog.Unmounted(_logger, state.MountPoint);
    }

    private async Task RollBackAsync(Stack<(string What, Func<Task> Action)> undo)
    {
        while (undo.TryPop(out var step))
        {
            try
            {
                await step.Action();
            }
            catch (Exception ex)
            {
                MountLog.RollbackStepFailed(_logger, step.What, ex);
            }
        }
    }

    private static string FreeNbdDevice()
    {
        for (var i = 0; i < 128; i++)
        {
            var size = $"/sys/block/nbd{i}/size";
            if (File.Exists(size) && File.ReadAllText(size).Trim() == "0")
            {
                return $"/dev/nbd{i}";
            }
        }

        throw new MountException("no free /dev/nbdN device");
    }

    private static async Task WaitForSocketAsync(string socket, Process server, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await CanConnectAsync(socket, cancellationToken))
        {
            if (server.HasExited)
            {
                throw new MountException($"the NBD server exited with code {server.ExitCode} before listening on {socket}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new MountException($"the NBD server did not listen on {socket} within {timeout.TotalSeconds:F0} s");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private static async Task WaitForFileAsync(string path, Process process, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!File.Exists(path) || new FileInfo(path).Length == 0)
        {
            if (process.HasExited)
            {
                throw new MountException($"{process.StartInfo.FileName} exited with code {process.ExitCode} before it was ready");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new MountException($"{process.StartInfo.FileName} was not ready within {timeout.TotalSeconds:F0} s");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    private static async Task<bool> CanConnectAsync(string socket, CancellationToken cancellationToken)
    {
        if (!File.Exists(socket))
        {
            return false;
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await probe.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
