using System.Net;
using NvmeMptls.TestKit;

namespace NvmeMptls.IntegrationTests.Service;

/// <summary>A steady write+read loop on one I/O queue, run until cancelled; counts what completed.</summary>
public sealed class ServiceWorkload : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _completed;
    private int _failed;

    private ServiceWorkload(RawNvmeHost admin, RawNvmeHost io)
    {
        Admin = admin;
        Io = io;
        _loop = Task.Run(RunAsync);
    }

    public RawNvmeHost Admin { get; }

    public RawNvmeHost Io { get; }

    public int Completed => Volatile.Read(ref _completed);

    public int Failed => Volatile.Read(ref _failed);

    public static async Task<ServiceWorkload> StartAsync(IPEndPoint endPoint, string nqn)
    {
        var admin = await RawNvmeHost.OpenAsync(endPoint, nqn, 0).ConfigureAwait(false);
        var io = await RawNvmeHost.OpenAsync(endPoint, nqn, 1, admin.ControllerId).ConfigureAwait(false);
        return new ServiceWorkload(admin, io);
    }

    private async Task RunAsync()
    {
        var data = new byte[4096];
        for (var i = 0; !_stop.IsCancellationRequested; i++)
        {
            var lba = (ulong)(i % 512) * 8;
            var w = await Io.WriteAsync(1, lba, data).ConfigureAwait(false);
            var r = await Io.ReadAsync(1, lba, 4096).ConfigureAwait(false);
            Interlocked.Add(ref _completed, 2);
            if (!w.Status.IsSuccess || !r.Status.IsSuccess)
            {
                Interlocked.Increment(ref _failed);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        await Io.DisposeAsync().ConfigureAwait(false);
        await Admin.DisposeAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}
