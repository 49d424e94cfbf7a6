using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using NvmeMptls.Initiator;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Initiator;

/// <summary>
/// A hand-written NVMe/TCP controller over memory pipes: enough of a target for the host queue and the
/// controller (properties, Identify, features, logs, Read/Write/Flush on a RAM namespace, R2T, AER), plus
/// knobs and hooks to misbehave on purpose. One <see cref="FakeSession"/> per queue connection.
/// </summary>
public sealed class FakeController
{
    public const string Nqn = "nqn.2024-01.io.nvmemptls:fake";
    public const int LbaSize = 512;

    private readonly ConcurrentBag<FakeSession> _sessions = [];
    private int _nextControllerId;

    public FakeController(int namespaceBytes = 4 * 1024 * 1024)
    {
        Storage = new byte[namespaceBytes];
    }

    public byte[] Storage { get; }

    /// <summary>MAXH2CDATA we advertise.</summary>
    public uint MaxH2CData { get; set; } = 128 * 1024;

    /// <summary>IOCCSZ in 16-byte units: (64 + 8192) / 16 allows 8 KiB in-capsule on I/O queues.</summary>
    public uint Ioccsz { get; set; } = (64 + 8192) / 16;

    /// <summary>Largest C2HData PDU (reads are split into PDUs of this size).</summary>
    public int C2HChunk { get; set; } = 1024 * 1024;

    /// <summary>Largest R2T (writes get one R2T per this many bytes, in order).</summary>
    public int R2TChunk { get; set; } = 1024 * 1024;

    /// <summary>End reads with C2HData SUCCESS instead of a CapsuleResp.</summary>
    public bool UseSuccessFlag { get; set; }

    /// <summary>I/O queues granted by Set Features Number of Queues (0's based in the reply).</summary>
    public int GrantedQueues { get; set; } = 8;

    /// <summary>Rewrites our ICResp before it is sent (hostile tests).</summary>
    public Func<IcRespPdu, IcRespPdu>? IcRespOverride { get; set; }

    /// <summary>Sees every command first; return true when it answered (or broke) it itself.</summary>
    public Func<FakeSession, NvmeCommand, ValueTask<bool>>? OnCommand { get; set; }

    /// <summary>Corrupts the data digest of the next N C2HData PDUs.</summary>
    public int CorruptReadDigests;

    /// <summary>Refuse connections (as if the target were down) while set.</summary>
    public volatile bool Refuse;

    public ConcurrentQueue<(ushort QueueId, TermReqFes Fes, uint Fei)> TermReqs { get; } = new();

    public ConcurrentQueue<string> Events { get; } = new();

    public int Connections => _sessions.Count;

    /// <summary>Connections whose session still runs.</summary>
    public int OpenConnections => _sessions.Count(s => !s.Ended);

    public int H2CDataPdus;
    public int KeepAlives;
    public int WritesExecuted;

    /// <summary>The controller id the next admin Connect gets.</summary>
    public ushort AllocateControllerId() => (ushort)Interlocked.Increment(ref _nextControllerId);

    public NvmeQueueConnector Factory => ConnectAsync;

    /// <summary>The clock of <see cref="Options"/>: keep-alive, back-off and timeouts move only when a test advances it.</summary>
    public FakeClock Time { get; } = new();

    /// <summary>The fake-clock time of every admin queue connect attempt, refused ones included.</summary>
    public ConcurrentQueue<DateTimeOffset> AdminConnects { get; } = new();

    /// <summary>Where <see cref="Options"/> runs I/O completions (fixtures run their tests in both modes).</summary>
    public NvmeCompletionMode CompletionMode { get; init; }

    public NvmeControllerOptions Options(int ioQueues = 2) => NvmeControllerOptions.Default with
    {
        CompletionMode = CompletionMode,
        SubsystemNqn = Nqn,
        IoQueueCount = ioQueues,
        QueueSize = 32,
        ReconnectDelay = TimeSpan.Zero,
        TimeProvider = Time,
        ControllerLossTimeout = TimeSpan.FromSeconds(30),
        KeepAliveTimeout = TimeSpan.Zero,
    };

    /// <summary>Drops every live connection, as a network failure would.</summary>
    public void DropAll()
    {
        foreach (var session in _sessions)
        {
            session.Drop();
        }
    }

    /// <summary>Completes the outstanding AER of the admin queues with a namespace-attribute notice.</summary>
    public async Task SignalNamespaceChangeAsync()
    {
        foreach (var session in _sessions)
        {
            await session.CompleteAerAsync(0x00040002);
        }
    }

    private ValueTask<System.IO.Pipelines.IDuplexPipe> ConnectAsync(NvmeQueueEndpoint endpoint, CancellationToken cancellationToken)
    {
        if (endpoint.QueueId == 0)
        {
            AdminConnects.Enqueue(Time.GetUtcNow());
        }

        if (Refuse)
        {
            throw new IOException($"connection refused by the fake at {endpoint.Address}:{endpoint.Port}");
        }

        var (host, controller) = MemoryConnection.CreatePair();
        var session = new FakeSession(this, controller);
        _sessions.Add(session);
        session.Start();
        return ValueTask.FromResult<System.IO.Pipelines.IDuplexPipe>(host);
    }
}
