namespace NvmeMptls.Target.Commands;

/// <summary>
/// Where a command slot is in its life; changed only by <see cref="CommandContext.SetState"/>, which rejects any
/// transition not listed here:
/// <code>
/// Free         → Receiving                               a capsule arrived and took the slot
/// Receiving    → AwaitingData                            R2T queued: the host sends the data in H2CData PDUs
/// Receiving    → Executing                               all data in (none, or in-capsule): handed to the command layer
/// AwaitingData → Executing                               the last H2CData arrived
/// Executing    → Held                                    an Asynchronous Event Request waits for an event
/// Receiving, AwaitingData, Executing, Held → Completing  the completion is queued for the send loop
/// Completing   → Free                                    the response was written, or dropped with the connection
/// Receiving, AwaitingData, Held → Free                   the connection closed with the command unanswered
/// </code>
/// </summary>
internal enum CommandState
{
    Free,
    Receiving,
    AwaitingData,
    Executing,
    Held,
    Completing,
}
