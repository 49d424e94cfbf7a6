using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Controllers;

/// <summary>
/// Reservation notices of this controller (NVMe Base 2.0 §8.19.10): the Reservation Notification log (80h), one
/// notice per read, the AEN that announces it (type 6, information 00h) and the per-namespace notification mask
/// (feature 83h); feature 84h is the namespace's Persist Through Power Loss.
/// </summary>
public sealed partial class TargetController
{
    private const int MaxReservationNotices = 255;

    private readonly Queue<ReservationNotificationLog> _reservationNotices = new();
    private readonly Dictionary<uint, uint> _reservationMasks = [];
    private uint _reservationMaskAll;
    private ulong _reservationNoticeCount;
    private bool _reservationNoticeMasked;

    /// <summary>A reservation change touched this controller's host on namespace <paramref name="nsid"/>.</summary>
    internal void OnReservationNotice(uint nsid, byte type)
    {
        bool raise;
        lock (_lock)
        {
            var mask = _reservationMasks.TryGetValue(nsid, out var m) ? m : _reservationMaskAll;
            if ((mask & ReservationNotificationLog.MaskBit(type)) != 0)
            {
                return;
            }

            // The count is the notice's sequence number: never 0, it wraps past the maximum back to 1.
            _reservationNoticeCount = _reservationNoticeCount == ulong.MaxValue ? 1 : _reservationNoticeCount + 1;
            if (_reservationNotices.Count == MaxReservationNotices)
            {
                _reservationNotices.Dequeue(); // the oldest is lost; the count gap shows it
            }

            _reservationNotices.Enqueue(new ReservationNotificationLog(_reservationNoticeCount, type, 0, nsid));
            raise = !_reservationNoticeMasked;
            _reservationNoticeMasked = true;
        }

        if (raise)
        {
            RaiseEvent(AsyncEvent.ReservationLogAvailable.ToDw0());
        }
    }

    /// <summary>Log 80h: the oldest notice (removed by the read), or an empty page; without RAE the AEN is re-armed.</summary>
    private byte[] BuildReservationNotificationLog(bool retainAsyncEvent)
    {
        var page = new byte[ReservationNotificationLog.Size];
        var again = false;
        lock (_lock)
        {
            if (_reservationNotices.TryDequeue(out var notice))
            {
                (notice with { Remaining = (byte)Math.Min(_reservationNotices.Count, 255) }).Write(page);
            }

            if (!retainAsyncEvent)
            {
                _reservationNoticeMasked = _reservationNotices.Count > 0;
                again = _reservationNotices.Count > 0;
            }
        }

        if (again)
        {
            RaiseEvent(AsyncEvent.ReservationLogAvailable.ToDw0());
        }

        return page;
    }

    private AdminResult SetReservationFeature(byte fid, uint nsid, uint value)
    {
        if (fid == FeatureIds.ReservationNotificationMask)
        {
            // Bits 1–3: Registration Preempted, Reservation Released, Reservation Preempted; FFFFFFFFh sets every namespace.
            var mask = value & 0x0E;
            lock (_lock)
            {
                if (nsid == NamespaceIdList.Broadcast)
                {
                    _reservationMaskAll = mask;
                    _reservationMasks.Clear();
                }
                else if (Subsystem.FindNamespace(nsid) is not null)
                {
                    _reservationMasks[nsid] = mask;
                }
                else
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
                }
            }

            return new AdminResult(NvmeStatus.Success);
        }

        if (Subsystem.FindNamespace(nsid) is not { } ns)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
        }

        return ns.Reservations.TrySetPersistThroughPowerLoss((value & 1) != 0)
            ? new AdminResult(NvmeStatus.Success)
            : AdminResult.Error(NvmeStatusCodes.FeatureNotChangeable);
    }

    private AdminResult GetReservationFeature(byte fid, uint nsid, bool current)
    {
        if (Subsystem.FindNamespace(nsid) is not { } ns)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
        }

        if (fid == FeatureIds.ReservationNotificationMask)
        {
            lock (_lock)
            {
                return new AdminResult(NvmeStatus.Success, Dw0: !current ? 0 : _reservationMasks.TryGetValue(nsid, out var m) ? m : _reservationMaskAll);
            }
        }

        return new AdminResult(NvmeStatus.Success, Dw0: current && ns.Reservations.PersistThroughPowerLoss ? 1u : 0u);
    }
}
