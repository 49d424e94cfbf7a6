using System.Buffers.Binary;
using System.Text;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The 1024-byte data of a Fabrics Connect command. Reference §2.3 (offsets compiled from libnvme).
/// <code>
/// 0       HOSTID   16 bytes
/// 16      CNTLID   0xFFFF on the admin Connect (dynamic model)
/// 256     SUBNQN   256 bytes, NUL terminated
/// 512     HOSTNQN  256 bytes, NUL terminated
/// </code>
/// </summary>
public sealed record ConnectData(Guid HostId, ushort ControllerId, string SubsystemNqn, string HostNqn)
{
    public const int Size = 1024;
    public const int HostIdOffset = 0;
    public const int CntlIdOffset = 16;
    public const int SubNqnOffset = 256;
    public const int HostNqnOffset = 512;
    public const int NqnFieldLength = 256;

    /// <summary>Longest NQN (bytes, without the terminating NUL).</summary>
    public const int MaxNqnLength = 223;

    public static ConnectData Read(ReadOnlySpan<byte> data) => new(
        new Guid(data.Slice(HostIdOffset, 16), bigEndian: true),
        BinaryPrimitives.ReadUInt16LittleEndian(data[CntlIdOffset..]),
        ReadNqn(data.Slice(SubNqnOffset, NqnFieldLength)),
        ReadNqn(data.Slice(HostNqnOffset, NqnFieldLength)));

    public void Write(Span<byte> data)
    {
        data[..Size].Clear();
        HostId.TryWriteBytes(data.Slice(HostIdOffset, 16), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt16LittleEndian(data[CntlIdOffset..], ControllerId);
        WriteNqn(data.Slice(SubNqnOffset, NqnFieldLength), SubsystemNqn);
        WriteNqn(data.Slice(HostNqnOffset, NqnFieldLength), HostNqn);
    }

    /// <summary>Reads a NUL-terminated ASCII field; like Linux, byte 255 is treated as the terminator.</summary>
    public static string ReadNqn(ReadOnlySpan<byte> field)
    {
        field = field[..Math.Min(field.Length, NqnFieldLength - 1)];
        var end = field.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? field : field[..end]);
    }

    public static void WriteNqn(Span<byte> field, string nqn)
    {
        field.Clear();
        Encoding.ASCII.GetBytes(nqn.AsSpan(0, Math.Min(nqn.Length, field.Length - 1)), field);
    }
}
