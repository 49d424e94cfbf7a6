using NvmeMptls.Target.Commands;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Target.Controllers;

/// <summary>
/// Set Features / Get Features (reference §3.8). Every feature the base spec makes mandatory for an NVM I/O controller
/// is answered: Arbitration, Power Management, Temperature Threshold, Error Recovery (per namespace), Number of Queues,
/// Write Atomicity Normal, Async Event Configuration and, for fabrics, Keep Alive Timer; Volatile Write Cache because
/// Identify reports one. Interrupt Coalescing and Interrupt Vector Configuration are PCIe only. Values are current
/// values of this controller: nothing is saveable (ONCS bit 4 is clear), so Set with SV fails and Get with SEL
/// "saved" returns the default. A discovery controller has Keep Alive Timer, Async Event Configuration and the
/// host identifier.
/// </summary>
public sealed partial class TargetController
{
    private const uint SupportedAsyncEvents = AsyncEvent.ConfigSmartWarnings | AsyncEvent.ConfigNamespaceAttribute | AsyncEvent.ConfigAnaChange | AsyncEvent.ConfigDiscoveryLogChange;

    /// <summary>Over-temperature threshold default: 343 K (70 °C), as QEMU's emulated controller; SMART reports 300 K.</summary>
    internal const ushort DefaultOverTemperatureKelvin = 343;

    private uint _arbitration = Features.ArbitrationBurstNoLimit;
    private uint _powerManagement;
    private ushort _overTemperature = DefaultOverTemperatureKelvin;
    private ushort _underTemperature;
    private uint _errorRecoveryAll;
    private readonly Dictionary<uint, uint> _errorRecovery = [];
    private uint _writeAtomicity;

    private bool SupportsFeature(byte fid) => fid switch
    {
        FeatureIds.AsyncEventConfig or FeatureIds.KeepAliveTimer or FeatureIds.HostIdentifier => true,
        FeatureIds.Arbitration or FeatureIds.PowerManagement or FeatureIds.TemperatureThreshold or FeatureIds.ErrorRecovery
            or FeatureIds.VolatileWriteCache or FeatureIds.NumberOfQueues or FeatureIds.WriteAtomicityNormal
            or FeatureIds.ReservationNotificationMask or FeatureIds.ReservationPersistence => !IsDiscovery,
        _ => false,
    };

    private AdminResult SetFeatures(in NvmeCommand cmd)
    {
        var fid = Features.FeatureIdOf(cmd);

        // NVMe Base 2.0 §5.27 (Set Features): SV set for a feature that is not saveable is Feature Identifier Not Saveable.
        if (Features.SaveOf(cmd))
        {
            return AdminResult.Error(NvmeStatusCodes.FeatureNotSaveable);
        }

        if (!SupportsFeature(fid))
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        var value = cmd.Cdw11;
        switch (fid)
        {
            case FeatureIds.Arbitration:
                _arbitration = value & ~Features.ArbitrationReservedMask;
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.PowerManagement:
                // Power Management: PS must name a described power state; NPSS is 0, so only state 0 exists.
                if ((value & Features.PowerStateMask) != 0)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidField);
                }

                _powerManagement = value & Features.PowerManagementMask;
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.TemperatureThreshold:
                return SetTemperatureThreshold(value);
            case FeatureIds.ErrorRecovery:
                return SetErrorRecovery(cmd.Nsid, value);
            case FeatureIds.VolatileWriteCache:
                VolatileWriteCacheEnabled = (value & 1) != 0;
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.NumberOfQueues:
                // Reference §3.8: FFFFh (65536 queues) in either half is Invalid Field.
                var (nsqr, ncqr) = Features.DecodeQueueCount(value);
                if (nsqr > ushort.MaxValue || ncqr > ushort.MaxValue)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidField);
                }

                IoQueueLimit = Math.Min(Math.Min(nsqr, ncqr), Registry.Limits.MaxIoQueues);
                return new AdminResult(NvmeStatus.Success, Dw0: Features.EncodeQueueCount(IoQueueLimit, IoQueueLimit));
            case FeatureIds.WriteAtomicityNormal:
                _writeAtomicity = value & Features.WriteAtomicityDisableNormal;
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.AsyncEventConfig:
                if ((value & ~SupportedAsyncEvents) != 0)
                {
                    return AdminResult.Error(NvmeStatusCodes.InvalidField);
                }

                AsyncEventConfig = value;
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.KeepAliveTimer:
                SetKeepAliveTimeout(value);
                return new AdminResult(NvmeStatus.Success);
            case FeatureIds.ReservationNotificationMask or FeatureIds.ReservationPersistence:
                return SetReservationFeature(fid, cmd.Nsid, value);
            default:
                // Host Identifier: NVMe Base 2.0 §5.27 — a message-based controller takes the host identifier from
                // the Connect command; Set Features for it is aborted with Command Sequence Error (as Linux nvmet).
                return AdminResult.Error(NvmeStatusCodes.CommandSequenceError);
        }
    }

    private AdminResult SetTemperatureThreshold(uint value)
    {
        var (kelvin, sensor, type) = Features.DecodeTemperatureThreshold(value);

        // Temperature Threshold: THSEL 10b/11b are reserved; TMPSEL 1001b-1110b are reserved, and a sensor that is
        // not implemented (we have only the composite temperature) has no threshold to set.
        if (type > Features.ThresholdUnder || (sensor != Features.TemperatureSensorComposite && sensor != Features.TemperatureSensorAll))
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        if (type == Features.ThresholdOver)
        {
            _overTemperature = kelvin;
        }
        else
        {
            _underTemperature = kelvin;
        }

        return new AdminResult(NvmeStatus.Success);
    }

    private AdminResult SetErrorRecovery(uint nsid, uint value)
    {
        // Error Recovery: DULBE may be set only when Identify Namespace reports NSFEAT.DAE, which ours does not.
        if ((value & Features.ErrorRecoveryDulbe) != 0)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        var tler = value & Features.ErrorRecoveryTlerMask;
        if (nsid is 0 or NamespaceIdList.Broadcast)
        {
            _errorRecoveryAll = tler;
            _errorRecovery.Clear();
            return new AdminResult(NvmeStatus.Success);
        }

        if (Subsystem.FindNamespace(nsid) is null)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
        }

        _errorRecovery[nsid] = tler;
        return new AdminResult(NvmeStatus.Success);
    }

    private AdminResult GetFeatures(CommandContext ctx)
    {
        ref readonly var cmd = ref ctx.Command;
        var fid = Features.FeatureIdOf(cmd);
        var select = Features.SelectOf(cmd);
        if (!SupportsFeature(fid) || select > Features.SelectSupportedCapabilities)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        if (select == Features.SelectSupportedCapabilities)
        {
            // Supported capabilities: nothing is saveable; the host identifier comes from Connect and cannot change.
            var capabilities = fid switch
            {
                FeatureIds.HostIdentifier => 0u,
                FeatureIds.ErrorRecovery or FeatureIds.ReservationNotificationMask or FeatureIds.ReservationPersistence => Features.CapabilityChangeable | Features.CapabilityNamespaceSpecific,
                _ => Features.CapabilityChangeable,
            };
            return new AdminResult(NvmeStatus.Success, Dw0: capabilities);
        }

        // Not saveable, so SEL 10b (saved) reports the default, like SEL 01b.
        var current = select == Features.SelectCurrent;
        switch (fid)
        {
            case FeatureIds.Arbitration:
                return Value(current ? _arbitration : Features.ArbitrationBurstNoLimit);
            case FeatureIds.PowerManagement:
                return Value(current ? _powerManagement : 0);
            case FeatureIds.TemperatureThreshold:
                return GetTemperatureThreshold(cmd.Cdw11, current);
            case FeatureIds.ErrorRecovery:
                return GetErrorRecovery(cmd.Nsid, current);
            case FeatureIds.VolatileWriteCache:
                return Value(!current || VolatileWriteCacheEnabled ? 1u : 0u);
            case FeatureIds.NumberOfQueues:
                var queues = current ? IoQueueLimit : Registry.Limits.MaxIoQueues;
                return Value(Features.EncodeQueueCount(queues, queues));
            case FeatureIds.WriteAtomicityNormal:
                return Value(current ? _writeAtomicity : 0);
            case FeatureIds.AsyncEventConfig:
                return Value(current ? AsyncEventConfig : 0);
            case FeatureIds.KeepAliveTimer:
                return Value(current ? KeepAliveTimeoutMs : _connectKeepAliveMs);
            case FeatureIds.ReservationNotificationMask or FeatureIds.ReservationPersistence:
                return GetReservationFeature(fid, cmd.Nsid, current);
            default:
                // Host Identifier: only the 128-bit (extended) form is supported: CDW11 bit 0 must be set.
                if ((cmd.Cdw11 & 1) == 0)
                {
                    return AdminResult.Error(NvmeStatusCodes.HostIdInconsistent);
                }

                var id = new byte[16];
                HostId.TryWriteBytes(id, bigEndian: true, out _);
                return new AdminResult(NvmeStatus.Success, DataLength: ctx.CopyOut(id));
        }

        static AdminResult Value(uint dw0) => new(NvmeStatus.Success, Dw0: dw0);
    }

    private AdminResult GetTemperatureThreshold(uint cdw11, bool current)
    {
        var (_, sensor, type) = Features.DecodeTemperatureThreshold(cdw11);

        // Temperature Threshold: THSEL 10b/11b and TMPSEL 1001b-1110b are reserved; 1111b (all sensors) is for Set only.
        if (type > Features.ThresholdUnder || sensor > Features.TemperatureSensorMax)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidField);
        }

        // Sensors 1-8 are not implemented: their thresholds read as 0.
        ushort kelvin = 0;
        if (sensor == Features.TemperatureSensorComposite)
        {
            kelvin = type == Features.ThresholdOver
                ? (current ? _overTemperature : DefaultOverTemperatureKelvin)
                : (current ? _underTemperature : (ushort)0);
        }

        return new AdminResult(NvmeStatus.Success, Dw0: Features.EncodeTemperatureThreshold(kelvin, sensor, type));
    }

    private AdminResult GetErrorRecovery(uint nsid, bool current)
    {
        // Error Recovery is namespace specific; NSID 0 or FFFFFFFFh reads the value every namespace starts with.
        if (nsid is 0 or NamespaceIdList.Broadcast)
        {
            return new AdminResult(NvmeStatus.Success, Dw0: current ? _errorRecoveryAll : 0);
        }

        if (Subsystem.FindNamespace(nsid) is null)
        {
            return AdminResult.Error(NvmeStatusCodes.InvalidNamespace);
        }

        var tler = current && _errorRecovery.TryGetValue(nsid, out var v) ? v : current ? _errorRecoveryAll : 0;
        return new AdminResult(NvmeStatus.Success, Dw0: tler);
    }
}
