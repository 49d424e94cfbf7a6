namespace NvmeMptls.Transport.Sockets;

/// <summary>
/// <c>multipath: required</c> could not be met: the OS refused MPTCP sockets, or the peer made the
/// connection fall back to TCP. The message names the reason.
/// </summary>
public sealed class MultipathUnavailableException : IOException
{
    public MultipathUnavailableException(string message) : base(message) { }
}
