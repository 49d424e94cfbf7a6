using System.Buffers.Binary;
using System.Text;

namespace NvmeMptls.Transport.Nvme;

/// <summary>
/// The 1024-byte data of a Fabrics Connect command. Reference §2.3 (offsets compiled from libnvme).
/// <code>
/// 0       HOSTID   16 bytes
/// 16      CNTLID   0xFFFF on the admin Connect (dynamic model)
/// 18      reserved 238 bytes
/// 256     SUBNQN   256 bytes, NUL terminated UTF-8
/// 512     HOSTNQN  256 bytes, NUL terminated UTF-8
/// 768     reserved 256 bytes
/// </code>
/// The SQE fields are in <see cref="ConnectCommand"/>, the completion's DW0 in <see cref="ConnectResponse"/>.
/// </summary>
public sealed record ConnectData(Guid HostId, ushort ControllerId, string SubsystemNqn, string HostNqn)
{
    public const int Size = 1024;
    public const int HostIdOffset = 0;
    public const int HostIdLength = 16;
    public const int CntlIdOffset = 16;
    public const int SubNqnOffset = 256;
    public const int HostNqnOffset = 512;
    public const int NqnFieldLength = 256;

    /// <summary>Longest NQN (bytes, without the terminating NUL).</summary>
    public const int MaxNqnLength = Nqn.MaxBytes;

    /// <summary>CNTLID of an admin Connect in the dynamic controller model: "allocate one".</summary>
    public const ushort DynamicControllerId = 0xFFFF;

    public static ConnectData Read(ReadOnlySpan<byte> data) => new(
        new Guid(data.Slice(HostIdOffset, HostIdLength), bigEndian: true),
        BinaryPrimitives.ReadUInt16LittleEndian(data[CntlIdOffset..]),
        ReadNqn(data.Slice(SubNqnOffset, NqnFieldLength)),
        ReadNqn(data.Slice(HostNqnOffset, NqnFieldLength)));

    public void Write(Span<byte> data)
    {
        data[..Size].Clear();
        HostId.TryWriteBytes(data.Slice(HostIdOffset, HostIdLength), bigEndian: true, out _);
        BinaryPrimitives.WriteUInt16LittleEndian(data[CntlIdOffset..], ControllerId);
        WriteNqn(data.Slice(SubNqnOffset, NqnFieldLength), SubsystemNqn);
        WriteNqn(data.Slice(HostNqnOffset, NqnFieldLength), HostNqn);
    }

    /// <summary>Reads a NUL-terminated UTF-8 field; like Linux, byte 255 is treated as the terminator.</summary>
    public static string ReadNqn(ReadOnlySpan<byte> field)
    {
        field = field[..Math.Min(field.Length, NqnFieldLength - 1)];
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    /// <summary>Writes an NQN as UTF-8 and NUL-fills the rest of the field; one that leaves no room for the NUL is refused.</summary>
    public static void WriteNqn(Span<byte> field, string nqn)
    {
        field.Clear();
        if (Encoding.UTF8.GetByteCount(nqn) >= field.Length)
        {
            throw new ArgumentException($"NQN of {Encoding.UTF8.GetByteCount(nqn)} bytes does not fit a {field.Length}-byte field", nameof(nqn));
        }

        Encoding.UTF8.GetBytes(nqn, field);
    }
}
