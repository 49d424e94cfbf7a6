using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using NvmeMptls.Initiator;
using NvmeMptls.Initiator.Transport;
using NvmeMptls.IntegrationTests.TestKit;
using NvmeMptls.TestKit;
using NvmeMptls.Transport.Connections;
using NvmeMptls.Transport.Multipath;
using NvmeMptls.Transport.Pdu;
using NvmeMptls.Transport.Sockets;

namespace NvmeMptls.IntegrationTests.Soak;

/// <summary>
/// The hostile peer of the soak, from the initiator namespace to the target's TLS-only MPTCP port: malformed PDUs
/// in the clear (the port must refuse them), garbage TLS records, malformed PDUs inside a real TLS session after
/// ICReq (and sometimes after an admin Connect), and waves of connections that drip a ClientHello or an ICReq a
/// byte at a time. It never writes to the namespace. Counts what it sent and how the target answered.
/// </summary>
internal sealed class SoakHostile(Testbed bed, string key)
{
    private const string HostileNqn = "nqn.2014-08.org.nvmexpress:uuid:66666666-0000-4000-8000-000000000666";
    private static readonly IPEndPoint Target = new(Testbed.TargetAddress(1), SoakTarget.Port);

    public long MalformedPdus;
    public long TermReqs;
    public long ClosedWithoutTermReq;
    public long Unanswered;
    public long HeldOpen;
    public long TlsSessions;
    public long ConnectFailures;
    public long DripConnections;
    public long DripBytes;
    public long DripClosedEarly;

    /// <summary>Sends malformed input until <paramref name="stop"/>, one connection after another.</summary>
    public async Task HammerAsync(Random random, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            try
            {
                switch (random.Next(10))
                {
                    case < 4:
                        await PlaintextAsync(random).ConfigureAwait(false);
                        break;
                    case < 6:
                        await GarbageTlsAsync(random).ConfigureAwait(false);
                        break;
                    default:
                        await InsideTlsAsync(random).ConfigureAwait(false);
                        break;
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or TimeoutException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
            {
                Interlocked.Increment(ref ConnectFailures); // the target is down, restarting, or a path is out
            }

            await Task.Delay(random.Next(5, 40), CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary><paramref name="count"/> connections at once, each dripping one byte every 0.5 s for up to <paramref name="hold"/>.</summary>
    public async Task DripWaveAsync(Random random, int count, TimeSpan hold)
    {
        var seeds = Enumerable.Range(0, count).Select(_ => random.Next()).ToArray();
        await Task.WhenAll(seeds.Select(seed => Task.Run(() => DripOneAsync(new Random(seed), hold)))).ConfigureAwait(false);
    }

    private async Task DripOneAsync(Random random, TimeSpan hold)
    {
        using var socket = await OpenAsync().ConfigureAwait(false);
        if (socket is null)
        {
            return;
        }

        Interlocked.Increment(ref DripConnections);
        // Half drip the start of a TLS ClientHello record, half a plaintext ICReq.
        var bytes = random.Next(2) == 0 ? ClientHelloStart(random) : IcReq();
        var deadline = DateTime.UtcNow + hold;
        foreach (var b in bytes)
        {
            if (DateTime.UtcNow > deadline)
            {
                return;
            }

            try
            {
                if (await socket.SendAsync(new[] { b }, SocketFlags.None).ConfigureAwait(false) != 1)
                {
                    break;
                }

                Interlocked.Increment(ref DripBytes);
                await Task.Delay(500).ConfigureAwait(false);
                // Readable means the target answered (an alert, a TermReq) or closed: a healthy drip gets nothing.
                if (socket.Poll(0, SelectMode.SelectRead))
                {
                    Interlocked.Increment(ref DripClosedEarly);
                    return;
                }
            }
            catch (SocketException)
            {
                Interlocked.Increment(ref DripClosedEarly);
                return;
            }
        }
    }

    private async Task PlaintextAsync(Random random)
    {
        using var socket = await OpenAsync().ConfigureAwait(false);
        if (socket is null)
        {
            return;
        }

        var pdu = random.Next(3) == 0 ? Concat(IcReq(), Malformed(random)) : Malformed(random);
        await socket.SendAsync(pdu, SocketFlags.None).ConfigureAwait(false);
        Interlocked.Increment(ref MalformedPdus);
        await DrainAsync(socket).ConfigureAwait(false);
    }

    private async Task GarbageTlsAsync(Random random)
    {
        using var socket = await OpenAsync().ConfigureAwait(false);
        if (socket is null)
        {
            return;
        }

        var body = new byte[random.Next(1, 600)];
        random.NextBytes(body);
        var record = new byte[5 + body.Length];
        record[0] = 0x16;
        record[1] = 3;
        record[2] = (byte)random.Next(1, 4);
        BinaryPrimitives.WriteUInt16BigEndian(record.AsSpan(3), (ushort)(random.Next(4) == 0 ? random.Next(0x10000) : body.Length));
        body.CopyTo(record, 5);
        if (random.Next(2) == 0)
        {
            record[5] = 1; // claims to be a ClientHello
        }

        await socket.SendAsync(record, SocketFlags.None).ConfigureAwait(false);
        Interlocked.Increment(ref MalformedPdus);
        await DrainAsync(socket).ConfigureAwait(false);
    }

    private async Task InsideTlsAsync(Random random)
    {
        var options = NvmeControllerOptions.Default with
        {
            TargetAddress = Target.Address.ToString(),
            TargetPort = Target.Port,
            SubsystemNqn = SoakTarget.SubsystemNqn,
            HostNqn = HostileNqn,
            HostId = Guid.Parse("66666666-0000-4000-8000-000000000666"),
            Multipath = NvmeMultipathPolicy.Preferred,
            NetworkNamespace = bed.InitiatorNamespace,
            ConnectTimeout = TimeSpan.FromSeconds(3),
            Tls = true,
            TlsKey = key,
        };
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var connection = (StreamConnection)await NvmeConnectionFactory.Instance(new NvmeQueueEndpoint(0, options.TargetAddress, options.TargetPort, options), cts.Token).ConfigureAwait(false);
        await using var host = new RawNvmeHost(connection);
        Interlocked.Increment(ref TlsSessions);
        await host.InitializeAsync().WaitAsync(TimeSpan.FromSeconds(4)).ConfigureAwait(false);
        if (random.Next(3) == 0)
        {
            var connect = await host.ConnectAsync(SoakTarget.SubsystemNqn, 0, 31, hostNqn: HostileNqn).WaitAsync(TimeSpan.FromSeconds(4)).ConfigureAwait(false);
            if (!connect.Status.IsSuccess)
            {
                throw new InvalidOperationException("the hostile admin Connect was refused: " + connect.Status);
            }
        }

        await host.SendRawAsync(Malformed(random)).ConfigureAwait(false);
        Interlocked.Increment(ref MalformedPdus);
        try
        {
            var term = await host.ReadTermReqAsync().WaitAsync(TimeSpan.FromSeconds(4)).ConfigureAwait(false);
            Interlocked.Increment(ref term is null ? ref ClosedWithoutTermReq : ref TermReqs);
        }
        catch (TimeoutException)
        {
            Interlocked.Increment(ref Unanswered); // still open after 4 s (e.g. waiting for the rest of a PDU): we close it
        }
    }

    /// <summary>A PDU the target must refuse: a wrong header length, an unknown or wrong-direction type, PLEN below
    /// HLEN, data for a transfer that does not exist, a second ICReq, or plain random bytes.</summary>
    private static byte[] Malformed(Random random)
    {
        switch (random.Next(8))
        {
            case 0:
                return RawNvmeHost.Header((PduType)random.Next(0x0A, 0x80), 0, 8, 0, 8, 8);
            case 1:
                return RawNvmeHost.Header(PduType.CapsuleCmd, 0, (byte)random.Next(8, 72), 0, 72, 72);
            case 2:
                return RawNvmeHost.Header(PduType.CapsuleCmd, 0, 72, 0, (uint)random.Next(8, 72), 72);
            case 3:
            {
                var pdu = new byte[24 + 512];
                RawNvmeHost.Header(PduType.H2CData, 0, 24, 24, (uint)pdu.Length, 24).CopyTo(pdu, 0);
                BinaryPrimitives.WriteUInt16LittleEndian(pdu.AsSpan(8), (ushort)random.Next(0x10000)); // CCCID
                BinaryPrimitives.WriteUInt16LittleEndian(pdu.AsSpan(10), (ushort)random.Next(0x10000)); // TTAG nobody issued
                BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(16), 512);
                return pdu;
            }

            case 4:
                return IcReq();
            case 5:
                return RawNvmeHost.Header(PduType.C2HData, 0, 24, 0, 24, 24);
            case 6:
            {
                var pdu = RawNvmeHost.Header(PduType.CapsuleCmd, 0, 72, 0, 0x7FFF_FFFF, 72);
                random.NextBytes(pdu.AsSpan(8));
                return pdu;
            }

            default:
            {
                var junk = new byte[random.Next(8, 256)];
                random.NextBytes(junk);
                return junk;
            }
        }
    }

    private static byte[] IcReq()
    {
        var pdu = RawNvmeHost.Header(PduType.ICReq, 0, 128, 0, 128, 128);
        BinaryPrimitives.WriteUInt32LittleEndian(pdu.AsSpan(12), 0); // MAXR2T 0's based
        return pdu;
    }

    private static byte[] ClientHelloStart(Random random)
    {
        var bytes = new byte[16];
        random.NextBytes(bytes);
        bytes[0] = 0x16;
        bytes[1] = 3;
        bytes[2] = 1;
        bytes[3] = 0x02;
        bytes[4] = 0x00;
        bytes[5] = 1;
        return bytes;
    }

    private static byte[] Concat(byte[] a, byte[] b) => [.. a, .. b];

    private async Task<Socket?> OpenAsync()
    {
        var socket = SocketFactory.Create(AddressFamily.InterNetwork, MultipathPolicy.Preferred, bed.InitiatorNamespace, NullLogger.Instance).Socket;
        try
        {
            socket.NoDelay = true;
        }
        catch (SocketException)
        {
            // not every kernel takes TCP_NODELAY on an MPTCP socket
        }

        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            await socket.ConnectAsync(Target, cts.Token).ConfigureAwait(false);
            return socket;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            Interlocked.Increment(ref ConnectFailures);
            return null;
        }
    }

    /// <summary>Reads whatever the target answers until it closes, at most 2 s (then counts it as held open).</summary>
    private async Task DrainAsync(Socket socket)
    {
        var buffer = new byte[4096];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (OperationCanceledException)
        {
            Interlocked.Increment(ref HeldOpen); // still open after 2 s: we close it ourselves
        }
        catch (SocketException)
        {
            // reset by the target
        }
    }
}
