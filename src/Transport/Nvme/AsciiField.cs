using System.Text;

namespace NvmeMptls.Transport.Nvme;

/// <summary>Space- or NUL-padded ASCII fields of NVMe data structures.</summary>
public static class AsciiField
{
    public static void WriteSpacePadded(Span<byte> field, string value)
    {
        field.Fill((byte)' ');
        var n = Math.Min(value.Length, field.Length);
        Encoding.ASCII.GetBytes(value.AsSpan(0, n), field);
    }

    public static void WriteNulPadded(Span<byte> field, string value)
    {
        field.Clear();
        var n = Math.Min(value.Length, field.Length - 1);
        Encoding.ASCII.GetBytes(value.AsSpan(0, n), field);
    }

    public static string Read(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        if (end >= 0)
        {
            field = field[..end];
        }

        return Encoding.ASCII.GetString(field).TrimEnd(' ');
    }
}
