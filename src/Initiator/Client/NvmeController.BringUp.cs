using System.Buffers.Binary;
using NvmeMptls.Crypto.Psk;
using NvmeMptls.Initiator.Queue;
using NvmeMptls.Transport.Nvme;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Initiator;

/// <summary>Controller bring-up the way the Linux host does it (reference §2.5, §2.9), and shutdown.</summary>
public sealed partial class NvmeController
{
    private const int AdminSlots = 32;
    private const ushort AdminSqSize = 31;
    private const uint CcEnable = ControllerRegisters.CcEnable;
    private const uint CcShutdownNormal = ControllerRegisters.CcShutdownNormal;
    private const uint CstsReady = ControllerRegisters.CstsReady;
    private const uint CstsFatal = ControllerRegisters.CstsFatal;
    private const uint CstsShutdownMask = ControllerRegisters.CstsShutdownMask;
    private const uint CstsShutdownComplete = ControllerRegisters.CstsShutdownComplete;
    private const uint AenNamespaceAttribute = AsyncEvent.ConfigNamespaceAttribute;
    private const uint AenAnaChange = AsyncEvent.ConfigAnaChange;

    private NvmeQueueEndpoint Endpoint(ushort queueId, DerivedTlsPsk? generated = null) =>
        new(queueId, Options.TargetAddress, Options.TargetPort, Options) { GeneratedTlsPsk = generated };

    private QueueParameters AdminParameters(byte secureChannel = NegotiateMessage.NoSecureChannel) =>
        new(Options.HostId, Options.HostNqn, Options.SubsystemNqn, ConnectData.DynamicControllerId, AdminSqSize, (uint)Options.KeepAliveTimeout.TotalMilliseconds,
            AdminSlots, AdminSlots - 1, Options.CommandTimeout, Options.DhChapSecret, Options.DhChapControllerSecret, secureChannel);

    private async Task<Association> BringUpAsync(CancellationToken cancellationToken)
    {
        // Every (re)connect concatenates afresh, as the Linux host revokes its generated key on reset and error recovery.
        using var generated = Options.SecureConcat ? await ConcatenateAsync(cancellationToken).ConfigureAwait(false) : null;
#pragma warning disable CA2000 // the association owns it on success; the catch below disposes it otherwise
        var admin = await HostQueue.ConnectAsync(_factory, Endpoint(0, generated), AdminParameters(), _onQueueLost, _logger, cancellationToken).ConfigureAwait(false);
#pragma warning restore CA2000
        Association? association = null;
        try
        {
            association = await EnableAndIdentifyAsync(admin, cancellationToken).ConfigureAwait(false);
            await ConnectIoQueuesAsync(association, generated, cancellationToken).ConfigureAwait(false);
            await ReadAnaAtBringUpAsync(association, cancellationToken).ConfigureAwait(false);
            return association;
        }
        catch
        {
            if (association is not null)
            {
                await association.TearDownAsync().ConfigureAwait(false);
            }
            else
            {
                await admin.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    private async Task<Association> EnableAndIdentifyAsync(HostQueue admin, CancellationToken cancellationToken)
    {
        var cap = (await AdminChecked(admin, Commands.PropertyGet(PropertyOffsets.Cap, eightBytes: true), "Property Get CAP", cancellationToken).ConfigureAwait(false)).Result64;

        // Reference §2.5: configure with EN=0, then the same CC with EN=1 (NVM command set, 4 KiB pages, round robin).
        var cc = ControllerRegisters.CcQueueEntrySizes;
        await AdminChecked(admin, Commands.PropertySet(PropertyOffsets.Cc, cc), "Property Set CC", cancellationToken).ConfigureAwait(false);
        await AdminChecked(admin, Commands.PropertySet(PropertyOffsets.Cc, cc | CcEnable), "Property Set CC.EN", cancellationToken).ConfigureAwait(false);
        var timeout = ControllerRegisters.ReadyTimeout(cap);
        await WaitStatusAsync(admin, CstsReady, CstsReady, timeout, "CSTS.RDY", cancellationToken).ConfigureAwait(false);
        var vs = (await AdminChecked(admin, Commands.PropertyGet(PropertyOffsets.Vs, eightBytes: false), "Property Get VS", cancellationToken).ConfigureAwait(false)).Dw0;

        var raw = new byte[IdentifyController.Size];
        await AdminChecked(admin, Commands.Identify(IdentifyCns.Controller, 0), raw, "Identify Controller", cancellationToken).ConfigureAwait(false);
        var identify = IdentifyController.Read(raw);

        // Reference §1.10/§3.3: the Linux host refuses MAXCMD 0 (I/O controllers), ICDOFF ≠ 0 and no SGL support.
        if (identify.ControllerType != IdentifyController.TypeDiscovery && Options.IoQueueCount > 0 && identify.MaxCmd == 0)
        {
            throw new IOException($"{Describe()}: Identify Controller reports MAXCMD 0");
        }

        var icdoff = BinaryPrimitives.ReadUInt16LittleEndian(raw.AsSpan(IdentifyController.IcdoffOffset));
        if (icdoff != 0)
        {
            throw new IOException($"{Describe()}: Identify Controller ICDOFF {icdoff} is not supported (must be 0)");
        }

        if ((identify.Sgls & 3) == 0)
        {
            throw new IOException($"{Describe()}: Identify Controller reports no SGL support (SGLS 0x{identify.Sgls:x8})");
        }

        return new Association(admin, cap, vs, identify, raw, cc | CcEnable);
    }

    /// <summary>
    /// Secure channel concatenation (TP 8018), the Linux host's way: the admin queue connects in the clear, runs
    /// DH-HMAC-CHAP with SC_C NEWTLSPSK, and is dropped; the generated PSK keys the TLS queues that follow.
    /// </summary>
    private async Task<DerivedTlsPsk> ConcatenateAsync(CancellationToken cancellationToken)
    {
        var plain = await HostQueue.ConnectAsync(_factory, Endpoint(0), AdminParameters(NegotiateMessage.NewTlsPsk), onLost: null, _logger, cancellationToken).ConfigureAwait(false);
        try
        {
            var generated = plain.TakeGeneratedPsk()
                ?? throw new NvmeAuthenticationException($"{Describe()}: secure channel concatenation needs in-band authentication, but the controller did not ask for it (no ATR in the admin Connect response)", 0, rejectedByController: false);
            Log.ConcatReconnecting(_logger, generated.Identity.ToString());
            return generated;
        }
        finally
        {
            await plain.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Re-keys secure channel concatenation: DH-HMAC-CHAP with SC_C REPLACETLSPSK on the (TLS) admin queue, after which the
    /// controller holds a new generated PSK and retires the old one. Returns the new PSK identity
    /// (<c>NVMe1G&lt;cc&gt; &lt;hostnqn&gt; &lt;subsysnqn&gt; &lt;digest&gt;</c>). Queues already connected keep their TLS sessions; a
    /// reconnect concatenates afresh.
    /// </summary>
    /// <exception cref="InvalidOperationException">The controller was not connected with <see cref="NvmeControllerOptions.SecureConcat"/>.</exception>
    /// <exception cref="NvmeAuthenticationException">The controller refused the transaction.</exception>
    public async Task<string> ReplaceTlsPskAsync(CancellationToken cancellationToken = default)
    {
        if (!Options.SecureConcat)
        {
            throw new InvalidOperationException("ReplaceTlsPskAsync needs a controller connected with SecureConcat");
        }

        using var replaced = await Current.Admin.ReauthenticateAsync(AdminParameters(), NegotiateMessage.ReplaceTlsPsk, cancellationToken).ConfigureAwait(false)
            ?? throw new NvmeAuthenticationException($"{Describe()}: REPLACETLSPSK produced no PSK", 0, rejectedByController: false);
        return replaced.Identity.ToString();
    }

    private async Task ConnectIoQueuesAsync(Association association, DerivedTlsPsk? generated, CancellationToken cancellationToken)
    {
        var requested = Options.IoQueueCount;
        if (requested == 0 || association.Identify.ControllerType == IdentifyController.TypeDiscovery)
        {
            QueueSize = 0;
            return;
        }

        // Reference §3.8: Number of Queues is 0's based in both halves; use min(requested, granted).
        var value = Features.EncodeQueueCount(requested, requested);
        var granted = Features.DecodeQueueCount((await AdminChecked(association.Admin, Commands.SetFeatures(FeatureIds.NumberOfQueues, value), "Set Features Number of Queues", cancellationToken).ConfigureAwait(false)).Dw0);
        var count = Math.Min(requested, Math.Min(granted.SubmissionQueues, granted.CompletionQueues));
        if (count < requested)
        {
            Log.FewerQueues(_logger, count, requested);
        }

        // Reference §2.3: SQSIZE = queue size − 1, clamped to CAP.MQES (0's based) and MAXCMD.
        var size = Math.Min(Options.QueueSize, ControllerRegisters.MaxQueueEntries(association.Capabilities));
        if (association.Identify.MaxCmd != 0)
        {
            size = Math.Min(size, association.Identify.MaxCmd);
        }

        QueueSize = size;
        var inCapsule = Math.Max(0, (int)Math.Min(association.Identify.Ioccsz * 16L - 64, int.MaxValue));
        var parameters = new QueueParameters(Options.HostId, Options.HostNqn, Options.SubsystemNqn, association.ControllerId, (ushort)(size - 1), 0, size, size, Options.CommandTimeout,
            Options.DhChapSecret, Options.DhChapControllerSecret);
        // Plain queues connect together. TLS queues connect one after another, as the Linux host does: tlshd 1.1 and
        // later (the Linux target's handshake agent) links the target's keyring into the session keyring its handshake
        // processes share and unlinks it when any handshake ends, so a handshake that overlaps another's end cannot
        // find its PSK and the target closes the connection.
        var connects = new Task<HostQueue>[count];
        var sequential = Endpoint(1, generated).UsesTls;
        for (var i = 0; i < count; i++)
        {
            connects[i] = HostQueue.ConnectAsync(_factory, Endpoint((ushort)(i + 1), generated), parameters, _onQueueLost, _logger, cancellationToken);
            if (sequential)
            {
                await ((Task)connects[i]).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (!connects[i].IsCompletedSuccessfully)
                {
                    Array.Resize(ref connects, i + 1);
                    break;
                }
            }
        }

        try
        {
            await Task.WhenAll(connects).ConfigureAwait(false);
        }
        catch
        {
            foreach (var connect in connects)
            {
                if (connect.IsCompletedSuccessfully)
                {
                    await (await connect.ConfigureAwait(false)).DisposeAsync().ConfigureAwait(false);
                }
            }

            throw;
        }

        var queues = new HostQueue[count];
        for (var i = 0; i < count; i++)
        {
            queues[i] = await connects[i].ConfigureAwait(false);
            queues[i].InCapsuleLimit = inCapsule;
        }

        association.Io = queues;
    }

    private async Task WaitStatusAsync(HostQueue admin, uint mask, uint expected, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var time = Options.TimeProvider;
        var started = time.GetTimestamp();
        var delay = 1;
        while (true)
        {
            var csts = (await AdminChecked(admin, Commands.PropertyGet(PropertyOffsets.Csts, eightBytes: false), "Property Get CSTS", cancellationToken).ConfigureAwait(false)).Dw0;
            if ((csts & CstsFatal) != 0 && mask == CstsReady)
            {
                throw new IOException($"{Describe()}: controller fatal status (CSTS.CFS) while waiting for {what}");
            }

            if ((csts & mask) == expected)
            {
                return;
            }

            if (time.GetElapsedTime(started) >= timeout)
            {
                throw new IOException($"{Describe()}: {what} not reached within {timeout.TotalSeconds:0.#} s (CSTS 0x{csts:x8})");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(delay), time, cancellationToken).ConfigureAwait(false);
            delay = Math.Min(delay * 2, 100);
        }
    }

    private void StartBackground(Association association)
    {
        var token = association.Background.Token;
        if (Options.KeepAliveTimeout > TimeSpan.Zero)
        {
            // The period starts when the association goes live, not when the loop gets a thread.
#pragma warning disable CA2000 // the keep-alive loop owns and disposes the timer (using var owned = timer)
            var timer = new PeriodicTimer(Options.KeepAliveTimeout / 2, Options.TimeProvider);
#pragma warning restore CA2000
            association.KeepAlive = Task.Run(() => KeepAliveLoopAsync(association, timer, token), CancellationToken.None);
        }

        if ((association.Identify.Oaes & (AenNamespaceAttribute | AenAnaChange)) != 0 && association.Identify.ControllerType != IdentifyController.TypeDiscovery)
        {
            association.AsyncEvents = Task.Run(() => AsyncEventLoopAsync(association, token), CancellationToken.None);
        }
    }

    /// <summary>Keep Alive every KATO/2 (reference §2.6); no answer within KATO counts as a lost connection.</summary>
    private async Task KeepAliveLoopAsync(Association association, PeriodicTimer timer, CancellationToken cancellationToken)
    {
        using var owned = timer;
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var completion = await association.Admin.SubmitAsync(Commands.KeepAlive(), default, default, cancellationToken)
                    .AsTask().WaitAsync(Options.KeepAliveTimeout, Options.TimeProvider, cancellationToken).ConfigureAwait(false);
                if (!completion.Status.IsSuccess)
                {
                    Log.KeepAliveFailed(_logger, completion.Status.ToString());
                }
            }
            catch (TimeoutException)
            {
                Log.KeepAliveFailed(_logger, "no answer within the keep-alive timeout");
                association.Admin.Abort(new IOException("keep alive timed out"));
                return;
            }
            catch (QueueLostException)
            {
                return;
            }
        }
    }

    /// <summary>One AER outstanding, re-armed after each (reference §2.7); namespace notices read log 04h, ANA Change notices log 0Ch.</summary>
    private async Task AsyncEventLoopAsync(Association association, CancellationToken cancellationToken)
    {
        try
        {
            var enabled = association.Identify.Oaes & (AenNamespaceAttribute | AenAnaChange);
            await AdminChecked(association.Admin, Commands.SetFeatures(FeatureIds.AsyncEventConfig, enabled), "Set Features Async Event Config", cancellationToken).ConfigureAwait(false);
            if ((enabled & AenAnaChange) != 0)
            {
                // A change between the bring-up read and the notices being enabled raised no notice: read once more.
                await ReadAnaLogAsync(association, cancellationToken).ConfigureAwait(false);
            }
            while (!cancellationToken.IsCancellationRequested)
            {
                var completion = await association.Admin.SubmitAsync(Commands.AsyncEventRequest(), default, default, cancellationToken).ConfigureAwait(false);
                if (!completion.Status.IsSuccess)
                {
                    return;
                }

                var aen = AsyncEvent.FromDw0(completion.Dw0);
                Log.AsyncEvent(_logger, aen.Type, aen.Info, aen.LogPage);
                if (aen.Type == AsyncEvent.TypeNotice && aen.Info == AsyncEvent.InfoNamespaceAttributeChanged)
                {
                    var page = new byte[NamespaceIdList.Size];
                    await AdminChecked(association.Admin, Commands.GetLogPage(LogPageIds.ChangedNamespaceList, 0xFFFFFFFF, 0, page.Length, false), page, "Get Log Page 04h", cancellationToken).ConfigureAwait(false);
                    var changed = new List<uint>();
                    NamespaceIdList.Read(page, changed);
                    NamespacesChanged?.Invoke(this, new NvmeNamespacesChange(changed));
                }
                else if (aen.Type == AsyncEvent.TypeNotice && aen.Info == AsyncEvent.InfoAnaChange)
                {
                    // NVMe Base 2.0 §8.1.4: read log 0Ch (RAE clear re-arms the notice).
                    await ReadAnaLogAsync(association, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is QueueLostException or OperationCanceledException or NvmeStatusException)
        {
            // the loop ends with its association (or when the controller refuses AERs)
        }
    }

    private async Task ShutdownAsync(Association association)
    {
        if (association.AdminLost)
        {
            return;
        }

        try
        {
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(5), Options.TimeProvider);
            await AdminChecked(association.Admin, Commands.PropertySet(PropertyOffsets.Cc, association.ControllerConfiguration | CcShutdownNormal), "Property Set CC.SHN", limit.Token).ConfigureAwait(false);
            await WaitStatusAsync(association.Admin, CstsShutdownMask, CstsShutdownComplete, TimeSpan.FromSeconds(5), "CSTS.SHST complete", limit.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or NvmeStatusException or OperationCanceledException)
        {
            Log.ShutdownIncomplete(_logger, ex.Message);
        }
    }

    private static Task<NvmeCompletion> AdminChecked(HostQueue admin, NvmeCommand command, string what, CancellationToken cancellationToken) =>
        AdminChecked(admin, command, default, what, cancellationToken);

    private static async Task<NvmeCompletion> AdminChecked(HostQueue admin, NvmeCommand command, Memory<byte> readBuffer, string what, CancellationToken cancellationToken)
    {
        var completion = await admin.SubmitAsync(command, readBuffer, default, cancellationToken).ConfigureAwait(false);
        return completion.Status.IsSuccess ? completion : throw new NvmeStatusException(completion.Status, what);
    }

    private string Describe() => $"{Options.SubsystemNqn} at {Options.TargetAddress}:{Options.TargetPort}";
}
