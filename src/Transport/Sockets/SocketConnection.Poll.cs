using System.Diagnostics;
using System.Net.Sockets;

namespace NvmeMptls.Transport.Sockets;

/// <summary>Busy-polling before a receive (<see cref="SocketConnectionOptions.ReceivePoll"/>).</summary>
public sealed partial class SocketConnection
{
    /// <summary><see cref="SocketConnectionOptions.ReceivePoll"/> in Stopwatch ticks; 0 when off.</summary>
    private readonly long _pollTicks;

    /// <summary>Receives that found bytes while polling, and receives that polled in vain (then waited in epoll).</summary>
    private long _pollHits, _pollMisses;

    /// <summary>Receives that found their bytes by busy-polling, so no thread slept and woke for them.</summary>
    public long PollHits => Interlocked.Read(ref _pollHits);

    /// <summary>Receives that polled for <see cref="SocketConnectionOptions.ReceivePoll"/> in vain and then waited.</summary>
    public long PollMisses => Interlocked.Read(ref _pollMisses);

    /// <summary>
    /// Spins until the socket is readable (bytes, the peer's FIN or an error: the receive then returns at once) or the
    /// poll time is over. poll(2) with a zero timeout never sleeps; it allocates nothing. A pause or a close ends it early.
    /// Does nothing when polling is off.
    /// </summary>
    private void PollForInput()
    {
        if (_pollTicks == 0)
            return;
        var until = Stopwatch.GetTimestamp() + _pollTicks;
        var pause = _receivePause.Token;
        while (!_closing && !pause.IsCancellationRequested)
        {
            if (_socket.Poll(0, SelectMode.SelectRead))
            {
                _pollHits++;
                return;
            }

            if (Stopwatch.GetTimestamp() >= until)
            {
                break;
            }

            Thread.SpinWait(8);
        }

        _pollMisses++;
    }
}
