using System.Text;
using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Namespaces;

/// <summary>
/// Keeps an RBD namespace's persistent reservations in the image itself, as the image metadata key
/// <see cref="MetadataKey"/> (<c>rbd image-meta get POOL/IMAGE nvmemptls.reservations</c> shows it), so the state
/// survives a restart of the gateway and is found by any gateway that opens the image later. Gateways that are already
/// running do not see each other's changes yet (no watch/notify): enforcement "at once on every gateway" is not done.
/// </summary>
public sealed class RbdReservationStore(RbdBlockDevice device) : IReservationStore
{
    public const string MetadataKey = "nvmemptls.reservations";

    public ReservationSnapshot Load()
    {
        var text = Get();
        return text is null ? ReservationSnapshot.Empty : Parse(text, $"{device.Description} metadata {MetadataKey}");
    }

    /// <summary>Parses the metadata value (the file's text form, '\n'-separated); <paramref name="source"/> names it in errors.</summary>
    internal static ReservationSnapshot Parse(string value, string source) =>
        FileReservationStore.Parse(value.Split('\n', StringSplitOptions.RemoveEmptyEntries), source);

    /// <summary>The value as librbd returns it: UTF-8, NUL-terminated, <paramref name="length"/> counting the terminator.</summary>
    internal static string Decode(byte[] buffer, int length)
    {
        var end = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, end >= 0 ? end : Math.Min(buffer.Length, length));
    }

    public void Save(ReservationSnapshot snapshot)
    {
        var rc = RbdNative.rbd_metadata_set(device.Image, MetadataKey, FileReservationStore.Format(snapshot));
        if (rc < 0)
        {
            throw new IOException($"rbd_metadata_set {MetadataKey} on {device.Description} failed: {RbdNative.ErrnoName(-rc)}");
        }
    }

    private unsafe string? Get()
    {
        nuint length = 4096;
        while (true)
        {
            var buffer = new byte[(int)length];
            int rc;
            fixed (byte* p = buffer)
            {
                rc = RbdNative.rbd_metadata_get(device.Image, MetadataKey, p, ref length);
            }

            if (rc == -2)
            {
                return null; // ENOENT: nothing saved yet
            }

            if (rc == -34 && length > (nuint)buffer.Length && length <= 1 << 20)
            {
                continue; // ERANGE: librbd said how much it needs
            }

            if (rc < 0)
            {
                throw new IOException($"rbd_metadata_get {MetadataKey} on {device.Description} failed: {RbdNative.ErrnoName(-rc)}");
            }

            return Decode(buffer, (int)length);
        }
    }
}
