using NvmeMptls.Target.Commands;

namespace NvmeMptls.Target.Tcp;

/// <summary>
/// The submission slots of one queue: created on demand up to SQSIZE (the host may not have more commands
/// outstanding), reused through a free stack, indexed by transfer tag for H2CData.
/// </summary>
internal sealed class CommandSlots
{
    private readonly object _lock = new();
    private readonly Stack<CommandContext> _free = new();
    private readonly CommandExecutor _executor;
    private CommandContext[] _slots = new CommandContext[1];
    private long[] _dataSince = new long[1];
    private int _created;
    private int _limit = 1;

    public CommandSlots(CommandExecutor executor)
    {
        _executor = executor;
    }

    public int Limit => _limit;

    /// <summary>Commands received and not yet answered (AERs, which wait for events, excluded).</summary>
    public int InFlight
    {
        get
        {
            lock (_lock)
            {
                var held = 0;
                for (var i = 0; i < _created; i++)
                {
                    if (_slots[i].State == CommandState.Held)
                    {
                        held++;
                    }
                }

                return _created - _free.Count - held;
            }
        }
    }

    /// <summary>Connect set the submission queue's size: that many commands may be outstanding.</summary>
    public void SetLimit(int slots)
    {
        lock (_lock)
        {
            _limit = slots;
        }
    }

    /// <summary>A free slot, or null when the host already has SQSIZE commands outstanding.</summary>
    public CommandContext? Rent()
    {
        lock (_lock)
        {
            if (_free.TryPop(out var ctx))
            {
                return ctx;
            }

            if (_created < _limit)
            {
                if (_created == _slots.Length)
                {
                    Array.Resize(ref _slots, Math.Min(_limit, Math.Max(4, _slots.Length * 2)));
                    Array.Resize(ref _dataSince, _slots.Length);
                }

                ctx = new CommandContext(_executor, (ushort)_created);
                _slots[_created++] = ctx;
                return ctx;
            }

            return null;
        }
    }

    /// <summary>
    /// The command's data phase starts now (its R2T is queued): call before it enters
    /// <see cref="CommandState.AwaitingData"/>, so a sweep that sees that state reads this command's time.
    /// </summary>
    public void MarkDataPhase(CommandContext ctx, long timestamp)
    {
        lock (_lock)
        {
            _dataSince[ctx.Slot] = timestamp;
        }
    }

    /// <summary>When the oldest command still waiting for its R2T data got its R2T; null when none waits (deadline sweep).</summary>
    public long? OldestDataPhase()
    {
        lock (_lock)
        {
            long? oldest = null;
            for (var i = 0; i < _created; i++)
            {
                if (_slots[i].State == CommandState.AwaitingData && (oldest is not { } o || _dataSince[i] < o))
                {
                    oldest = _dataSince[i];
                }
            }

            return oldest;
        }
    }

    /// <summary>The slot an R2T transfer tag names (receive loop only: it is also the only one that creates slots).</summary>
    public CommandContext? Find(ushort transferTag) => transferTag < _created ? _slots[transferTag] : null;

    /// <summary>Returns a slot to the free stack; a slot already free is left alone.</summary>
    public void Release(CommandContext ctx)
    {
        lock (_lock)
        {
            if (ctx.State != CommandState.Free)
            {
                ctx.ReleaseResources();
                ctx.SetState(CommandState.Free);
                _free.Push(ctx);
            }
        }
    }

    /// <summary>The connection closed: frees every command that will never be answered (receiving, awaiting data, held).</summary>
    public void ReleaseUnanswered()
    {
        lock (_lock)
        {
            for (var i = 0; i < _created; i++)
            {
                var ctx = _slots[i];
                var state = ctx.State;
                if (state is (CommandState.Receiving or CommandState.AwaitingData or CommandState.Held) && ctx.TrySetState(state, CommandState.Free))
                {
                    ctx.ReleaseResources();
                    _free.Push(ctx);
                }
            }
        }
    }
}
