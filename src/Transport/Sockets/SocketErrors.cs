using System.Net.Sockets;

namespace NvmeMptls.Transport.Sockets;

/// <summary>Why a socket stream ended abnormally; one value per wire-level cause.</summary>
public enum ConnectionErrorKind
{
    /// <summary>The peer sent RST (or the path died and the kernel gave up).</summary>
    Reset,
    /// <summary>A kernel timer expired (retransmission, keep-alive, connect).</summary>
    Timeout,
    /// <summary>This side closed or aborted the socket while an operation was pending.</summary>
    Closed,
    /// <summary>The network or host is unreachable.</summary>
    Unreachable,
    /// <summary>Anything else.</summary>
    Other,
}

/// <summary>The peer reset the connection: surfaced on the Input pipe instead of a SocketException.</summary>
public class ConnectionResetException : IOException
{
    public ConnectionResetException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>This side aborted the connection; pending and later I/O fails with this.</summary>
public class ConnectionAbortedException : IOException
{
    public ConnectionAbortedException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>Maps socket errors to <see cref="ConnectionErrorKind"/> and to the exception put on a pipe.</summary>
public static class SocketErrors
{
    public static ConnectionErrorKind Classify(SocketError error) => error switch
    {
        SocketError.ConnectionReset or SocketError.ConnectionAborted or SocketError.Shutdown => ConnectionErrorKind.Reset,
        SocketError.TimedOut => ConnectionErrorKind.Timeout,
        SocketError.OperationAborted or SocketError.Interrupted or SocketError.NotSocket or SocketError.NotConnected
            => ConnectionErrorKind.Closed,
        SocketError.NetworkUnreachable or SocketError.HostUnreachable or SocketError.NetworkDown or SocketError.HostDown
            => ConnectionErrorKind.Unreachable,
        _ => ConnectionErrorKind.Other,
    };

    /// <summary>Classifies any exception a socket operation can throw.</summary>
    public static ConnectionErrorKind Classify(Exception ex) => ex switch
    {
        SocketException se => Classify(se.SocketErrorCode),
        ObjectDisposedException or OperationCanceledException => ConnectionErrorKind.Closed,
        TimeoutException => ConnectionErrorKind.Timeout,
        _ => ConnectionErrorKind.Other,
    };

    /// <summary>The exception a pipe completes with: never a bare SocketException.</summary>
    public static IOException ToPipeException(Exception ex, string direction)
    {
        var kind = Classify(ex);
        return kind switch
        {
            ConnectionErrorKind.Reset => new ConnectionResetException($"connection reset by peer ({direction})", ex),
            ConnectionErrorKind.Timeout => new IOException($"connection timed out ({direction})", new TimeoutException(ex.Message, ex)),
            ConnectionErrorKind.Closed => new ConnectionAbortedException($"connection closed locally ({direction})", ex),
            ConnectionErrorKind.Unreachable => new IOException($"network unreachable ({direction})", ex),
            _ => ex as IOException ?? new IOException($"socket error ({direction}): {ex.Message}", ex),
        };
    }
}
