using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using NvmeMptls.Initiator.Queue;
using NvmeMptls.Transport.Nvme;

namespace NvmeMptls.Initiator;

/// <summary>
/// The submission path. Fast: the live association's queue has a free slot now, and the command travels in a pooled
/// <see cref="ControllerSubmission"/> (no allocation per command). Slow (<see cref="SubmitSlowAsync"/>): no live
/// association, a lost queue, a full queue, a cancelled token or a retryable status; it waits and resends.
/// </summary>
public sealed partial class NvmeController
{
    /// <summary>More than any queue count × depth in use; beyond it a finished submission is left to the GC.</summary>
    private const int SubmissionPoolSize = 1024;

    private readonly Lock _submissionLock = new();
    private readonly ControllerSubmission?[] _submissions = new ControllerSubmission?[SubmissionPoolSize];
    private int _submissionCount;

    internal ILogger Logger => _logger;

    /// <summary>
    /// Sends a command on <paramref name="queue"/> (admin when negative, else that I/O queue modulo the count) and
    /// gives its completion whatever the status. When the queue is lost it waits for the reconnect and sends again;
    /// retryable statuses without DNR are retried once.
    /// </summary>
    internal ValueTask<NvmeCompletion> SubmitAsync(int queue, NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, CancellationToken cancellationToken)
    {
        var submission = TrySubmitFast(queue, command, readBuffer, writeData, cancellationToken);
        return submission is not null
            ? new ValueTask<NvmeCompletion>(submission, submission.Version)
            : SubmitSlowAsync(queue, command, readBuffer, writeData, statusRetried: false, cancellationToken);
    }

    /// <summary>Like <see cref="SubmitAsync"/>, but an error status ends the task with <see cref="NvmeStatusException"/>.</summary>
    internal ValueTask SubmitCheckedAsync(int queue, NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, CancellationToken cancellationToken)
    {
        var submission = TrySubmitFast(queue, command, readBuffer, writeData, cancellationToken);
        return submission is not null
            ? new ValueTask(submission, submission.Version)
            : SubmitCheckedSlowAsync(queue, command, readBuffer, writeData, cancellationToken);
    }

    /// <summary>
    /// The async path: picks the queue of the live association, sends, and when the queue is lost waits for the
    /// reconnect and sends again. A retryable status without DNR is retried once (<paramref name="statusRetried"/>
    /// says the fast path already did).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<NvmeCompletion> SubmitSlowAsync(
        int queue, NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, bool statusRetried, CancellationToken cancellationToken)
    {
        while (true)
        {
            var association = _current;
            HostQueue target;
            if (association is null || association.AdminLost || (target = Pick(association, queue)).IsLost)
            {
                association = await WaitLiveAsync(association, cancellationToken).ConfigureAwait(false);
                target = Pick(association, queue);
            }

            NvmeCompletion completion;
            try
            {
                completion = await target.SubmitAsync(command, readBuffer, writeData, cancellationToken).ConfigureAwait(false);
            }
            catch (QueueLostException ex)
            {
                Log.Retrying(_logger, command.Opcode, ex.Message);
                continue;
            }

            if (!completion.Status.IsSuccess && !statusRetried && IsRetryable(completion.Status))
            {
                statusRetried = true;
                Log.Retrying(_logger, command.Opcode, NvmeStatusCodes.Describe(completion.Status));
                continue;
            }

            return completion;
        }
    }

    /// <summary>A finished fast-path submission goes back to the pool (called once its result was taken).</summary>
    internal void ReturnSubmission(ControllerSubmission submission)
    {
        lock (_submissionLock)
        {
            if (_submissionCount < SubmissionPoolSize)
            {
                _submissions[_submissionCount++] = submission;
            }
        }
    }

    private ControllerSubmission? TrySubmitFast(int queue, in NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, CancellationToken cancellationToken)
    {
        var association = _current;
        if (association is null || association.AdminLost || cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        var target = Pick(association, queue);
        if (target.IsLost)
        {
            return null;
        }

        ControllerSubmission? submission = null;
        lock (_submissionLock)
        {
            if (_submissionCount > 0)
            {
                submission = _submissions[--_submissionCount];
                _submissions[_submissionCount] = null;
            }
        }

        submission ??= new ControllerSubmission(this);
        submission.Prepare(queue, command, readBuffer, writeData, cancellationToken);
        if (target.TrySubmit(command, readBuffer, writeData, submission))
        {
            return submission;
        }

        ReturnSubmission(submission);
        return null;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SubmitCheckedSlowAsync(int queue, NvmeCommand command, Memory<byte> readBuffer, ReadOnlyMemory<byte> writeData, CancellationToken cancellationToken)
    {
        var completion = await SubmitSlowAsync(queue, command, readBuffer, writeData, statusRetried: false, cancellationToken).ConfigureAwait(false);
        NvmeNamespace.ThrowOnError(completion.Status, command.Opcode);
    }
}
