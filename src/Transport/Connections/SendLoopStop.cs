using System.Threading.Channels;

namespace NvmeMptls.Transport.Connections;

/// <summary>
/// Ends a send loop that waits on a channel without a cancellation token. <c>WaitToReadAsync</c> with a cancelable
/// token allocates a new waiter each time it has to wait; without one the channel reuses a single waiter. So the
/// loop waits token-free and, when its token fires, this posts the loop's stop item, which the loop ends on.
/// </summary>
public static class SendLoopStop
{
    /// <summary>Posts <paramref name="stopItem"/> into <paramref name="writer"/> when <paramref name="token"/> fires; dispose to unregister.</summary>
    public static CancellationTokenRegistration PostOnCancel<T>(ChannelWriter<T> writer, T stopItem, CancellationToken token) =>
        token.UnsafeRegister(static state => ((Post<T>)state!).Run(), new Post<T>(writer, stopItem));

    private sealed class Post<T>(ChannelWriter<T> writer, T item)
    {
        public void Run() => writer.TryWrite(item);
    }
}
