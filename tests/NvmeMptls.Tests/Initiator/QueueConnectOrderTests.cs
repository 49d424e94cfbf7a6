using System.IO.Pipelines;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator;

namespace NvmeMptls.Tests.Initiator;

/// <summary>
/// How the I/O queues of one association are opened: plain queues together, TLS queues one at a time (the Linux target's
/// tlshd fails a handshake that overlaps the end of another; the Linux host never overlaps them either).
/// </summary>
public sealed class QueueConnectOrderTests
{
    [Test]
    public async Task TlsQueues_ConnectOneAfterAnother()
    {
        var fake = new FakeController();
        var probe = new ConnectProbe(fake.Factory, waitForOthers: false);
        using var key = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(4) with { Tls = true, TlsKey = key.ToInterchange() }, probe.ConnectAsync);

        Assert.That(probe.IoConnects, Is.EqualTo(4));
        Assert.That(probe.MostAtOnce, Is.EqualTo(1), "two TLS I/O queue connects overlapped");
        Assert.That(controller.GetQueuePaths(), Has.Count.EqualTo(5));
    }

    [Test]
    public async Task PlainQueues_ConnectTogether()
    {
        var fake = new FakeController();
        var probe = new ConnectProbe(fake.Factory, waitForOthers: true);
        await using var controller = await NvmeController.ConnectAsync(fake.Options(4), probe.ConnectAsync);

        Assert.That(probe.IoConnects, Is.EqualTo(4));
        Assert.That(probe.MostAtOnce, Is.EqualTo(4), "plain I/O queues were connected one at a time");
    }

    [Test]
    public async Task TlsQueue_ThatFails_StopsTheOnesAfterIt_AndClosesTheOnesBefore()
    {
        var fake = new FakeController();
        var probe = new ConnectProbe(fake.Factory, waitForOthers: false) { FailQueue = 2 };
        using var key = ConfiguredPsk.Generate(NvmePskHash.Sha256);
        var options = fake.Options(4) with { Tls = true, TlsKey = key.ToInterchange(), ControllerLossTimeout = TimeSpan.Zero };

        var ex = Assert.ThrowsAsync<IOException>(async () => await NvmeController.ConnectAsync(options, probe.ConnectAsync));

        Assert.That(ex!.Message, Does.Contain("handshake refused"));
        Assert.That(probe.IoConnects, Is.EqualTo(2), "queues 3 and 4 were still attempted after queue 2 failed");
        Assert.That(fake.Connections, Is.EqualTo(2), "the admin queue and queue 1 connected");
        await Until(() => fake.OpenConnections == 0, "queue 1 and the admin queue closed");
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"timed out waiting for {what}");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>Wraps a connector and records how many I/O queue connects were in flight at once.</summary>
    private sealed class ConnectProbe(NvmeQueueConnector inner, bool waitForOthers)
    {
        private readonly TaskCompletionSource _allArrived = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _gate = new();
        private int _inFlight;
        private int _mostAtOnce;
        private int _ioConnects;

        public ushort FailQueue { get; init; }

        public int MostAtOnce
        {
            get
            {
                lock (_gate)
                {
                    return _mostAtOnce;
                }
            }
        }

        public int IoConnects
        {
            get
            {
                lock (_gate)
                {
                    return _ioConnects;
                }
            }
        }

        public async ValueTask<IDuplexPipe> ConnectAsync(NvmeQueueEndpoint endpoint, CancellationToken cancellationToken)
        {
            if (endpoint.QueueId == 0)
            {
                return await inner(endpoint, cancellationToken);
            }

            int total;
            lock (_gate)
            {
                total = ++_ioConnects;
                _mostAtOnce = Math.Max(_mostAtOnce, ++_inFlight);
            }

            try
            {
                if (waitForOthers)
                {
                    // Parallel connects all arrive here before any finishes; serial ones would time out instead.
                    if (total == endpoint.Options.IoQueueCount)
                    {
                        _allArrived.TrySetResult();
                    }

                    await _allArrived.Task.WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                }
                else
                {
                    // Long enough that a second connect started in parallel would be seen overlapping this one.
                    await Task.Delay(30, cancellationToken);
                }

                if (endpoint.QueueId == FailQueue)
                {
                    throw new IOException($"queue {endpoint.QueueId}: handshake refused");
                }

                return await inner(endpoint, cancellationToken);
            }
            finally
            {
                lock (_gate)
                {
                    _inFlight--;
                }
            }
        }
    }
}
