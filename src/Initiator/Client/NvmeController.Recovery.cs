using NvmeMptls.Initiator.Queue;

namespace NvmeMptls.Initiator;

/// <summary>
/// Error recovery like the Linux host's: a lost queue tears the whole association down, then reconnect
/// attempts follow every <see cref="NvmeControllerOptions.ReconnectDelay"/> until one succeeds or
/// <see cref="NvmeControllerOptions.ControllerLossTimeout"/> runs out. Commands wait meanwhile and are resent.
/// </summary>
public sealed partial class NvmeController
{
    private void OnQueueLost(HostQueue queue, Exception cause)
    {
        lock (_lock)
        {
            var current = _current;
            if (current is not null && (current.Admin == queue || Array.IndexOf(current.Io, queue) >= 0))
            {
                BeginRecoveryLocked(current, cause);
            }
        }
    }

    private void BeginRecoveryLocked(Association association, Exception cause)
    {
        if (_current != association || _state != NvmeControllerState.Live)
        {
            return;
        }

        _current = null;
        SetStateLocked(NvmeControllerState.Resetting);
        _live = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _recovery = Task.Run(() => RecoverAsync(association, cause));
    }

    private async Task RecoverAsync(Association lost, Exception cause)
    {
        RaiseStateChanged(NvmeControllerState.Live, NvmeControllerState.Resetting, cause);
        try
        {
            await lost.TearDownAsync().ConfigureAwait(false);
        }
#pragma warning disable CA1031 // whatever the old association's end was, the controller must go on to reconnect (or fail)
        catch (Exception ex)
#pragma warning restore CA1031
        {
            // A fault here once ended this task with the controller left in Resetting and its I/O waiting forever.
            Log.TearDownFailed(_logger, ex.GetType().Name, ex.Message);
        }

        var time = Options.TimeProvider;
        var started = time.GetTimestamp();
        var attempt = 0;
        while (Options.ControllerLossTimeout > TimeSpan.Zero)
        {
            var left = Options.ControllerLossTimeout - time.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                break;
            }

            try
            {
                await Task.Delay(Options.ReconnectDelay < left ? Options.ReconnectDelay : left, time, _closing.Token).ConfigureAwait(false);
                attempt++;
                var association = await BringUpAsync(_closing.Token).ConfigureAwait(false);
                BecomeLive(association);
                return;
            }
            catch (OperationCanceledException) when (_closing.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Log.ReconnectFailed(_logger, attempt, ex.Message);
                cause = ex;
            }
        }

        lock (_lock)
        {
            if (_state == NvmeControllerState.Closed)
            {
                return;
            }

            SetStateLocked(NvmeControllerState.Failed);
            _failure = cause;
            _live.TrySetException(new IOException($"controller loss timeout ({Options.ControllerLossTimeout.TotalSeconds:0.#} s) expired", cause));
        }

        RaiseStateChanged(NvmeControllerState.Resetting, NvmeControllerState.Failed, cause);
    }
}
