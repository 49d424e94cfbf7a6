using System.Net.Sockets;
using NvmeMptls.Transport.Multipath;

namespace NvmeMptls.Transport.Tls;

/// <summary>
/// Non-data records on a kTLS socket. A plain receive that meets one at the head of the queue fails with EIO
/// (Documentation/networking/tls.rst, "Receiving TLS control messages"); the record is then read with
/// recvmsg(2) and a control buffer, whose SOL_TLS/TLS_GET_RECORD_TYPE message names its content type.
/// close_notify becomes an orderly end of stream, any other alert an error naming it, a post-handshake message
/// (KeyUpdate, NewSessionTicket) an error that says kTLS does not take it here.
/// </summary>
internal static unsafe class KernelTlsControl
{
    private const int TlsGetRecordType = 2;
    private const int ContentTypeAlert = 21;
    private const int ContentTypeHandshake = 22;

    /// <summary>
    /// After a receive on a kTLS socket failed with <paramref name="error"/>: reads the control record now at the head
    /// of the queue. Returns null for close_notify (end the stream cleanly), else the exception to end it with.
    /// </summary>
    public static Exception? Translate(Socket socket, Exception error)
    {
        if (!OperatingSystem.IsLinux())
        {
            return error;
        }

        byte* data = stackalloc byte[256];
        byte* control = stackalloc byte[64];
        var iov = new LinuxNative.IoVec { Base = data, Length = 256 };
        var message = new LinuxNative.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 64 };
        nint received = LinuxNative.RecvMsg(socket.SafeHandle, &message, LinuxNative.MSG_DONTWAIT);
        if (received < 0 || message.ControlLength < 17)
        {
            // Not a control record (or nothing to read): the original error stands.
            return error;
        }

        // struct cmsghdr { size_t cmsg_len; int cmsg_level; int cmsg_type; unsigned char data[]; }
        int level = *(int*)(control + 8);
        int type = *(int*)(control + 12);
        if (level != KernelTls.SolTls || type != TlsGetRecordType)
        {
            return error;
        }

        byte recordType = control[16];
        if (recordType == ContentTypeAlert && received == 2)
        {
            var description = (TlsAlertDescription)data[1];
            return description == TlsAlertDescription.CloseNotify
                ? null
                : new TlsRecordException(description, fromPeer: true, $"peer sent alert {description} (kTLS)");
        }

        return recordType == ContentTypeHandshake
            ? new TlsRecordException(TlsAlertDescription.UnexpectedMessage, fromPeer: false,
                $"post-handshake message {data[0]} on a kTLS socket: kTLS here does not process KeyUpdate or tickets (use the reconnect key policy)")
            : new TlsRecordException(TlsAlertDescription.UnexpectedMessage, fromPeer: false, $"record of content type {recordType} on a kTLS socket");
    }
}
