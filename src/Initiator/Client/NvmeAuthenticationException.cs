namespace NvmeMptls.Initiator;

/// <summary>
/// In-band authentication (DH-HMAC-CHAP) of a queue failed, so its Connect did not complete: the controller refused the
/// host's response (Failure1), or the host refused the controller's (it sent Failure2), or the controller requires
/// authentication and no secret is configured. The Linux host reports these as EKEYREJECTED.
/// </summary>
public sealed class NvmeAuthenticationException : IOException
{
    /// <summary>Creates the exception with the reason code explanation of the Failure message (0 when none was exchanged).</summary>
    public NvmeAuthenticationException(string message, int reasonCode, bool rejectedByController)
        : this(message, reasonCode, rejectedByController, innerException: null)
    {
    }

    /// <summary>The same with the error that ended the exchange after the decision (the Failure2 send, say).</summary>
    internal NvmeAuthenticationException(string message, int reasonCode, bool rejectedByController, Exception? innerException)
        : base(message, innerException)
    {
        ReasonCode = reasonCode;
        RejectedByController = rejectedByController;
    }

    /// <summary>
    /// The reason code explanation: 1 failed, 2 not usable, 3 concatenation mismatch, 4 hash unusable, 5 DH group
    /// unusable, 6 incorrect payload, 7 incorrect message; 0 when no Failure message was exchanged.
    /// </summary>
    public int ReasonCode { get; }

    /// <summary>True when the controller sent Failure1; false when the host refused (Failure2) or could not start.</summary>
    public bool RejectedByController { get; }
}
