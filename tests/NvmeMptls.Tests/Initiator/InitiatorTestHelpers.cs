using NvmeMptls.Initiator;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Pdu;

namespace NvmeMptls.Tests.Initiator;

internal static class InitiatorTestHelpers
{
    /// <summary>Waits for a condition driven by background loops; the limit only keeps a broken build from hanging.</summary>
    public static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"gave up waiting for {what}");
            }

            await Task.Delay(5);
        }
    }

    /// <summary>
    /// Gives background loops a moment of real time: only for "nothing happened yet" checks after advancing a fake
    /// clock to just before a due time, so that an early timer would have had the chance to act.
    /// </summary>
    public static Task Settle() => Task.Delay(50);

    public static byte[] CapsuleResp(ushort commandId, NvmeStatus status = default)
    {
        var pdu = new byte[CapsuleRespPdu.HeaderLength];
        CapsuleRespPdu.WriteHeader(pdu, PduFlags.None, CapsuleRespPdu.HeaderLength, new NvmeCompletion { CommandId = commandId, Status = status });
        return pdu;
    }

    public static byte[] C2HData(ushort commandId, uint offset, int length, PduFlags flags)
    {
        var pdu = new byte[24 + length];
        new C2HDataPdu(commandId, offset, (uint)length).WriteHeader(pdu, flags, 24, (uint)pdu.Length);
        return pdu;
    }

    public static byte[] C2HTermReq(TermReqFes fes, uint fei)
    {
        var pdu = new byte[24];
        new C2HTermReqPdu(fes, fei).Write(pdu, default);
        return pdu;
    }

    public static byte[] Pattern(int length, int seed)
    {
        var data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static List<NvmeControllerState> TrackStates(NvmeController controller)
    {
        var states = new List<NvmeControllerState>();
        controller.StateChanged += (_, change) =>
        {
            lock (states)
            {
                states.Add(change.Current);
            }
        };
        return states;
    }
}
