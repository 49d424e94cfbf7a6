namespace NvmeMptls.Transport.Nvme.Auth;

/// <summary>
/// AUTH_Negotiate (AUTH_Type 00h, AUTH_Id 00h), host to controller: opens a transaction and offers hashes and DH groups.
/// Reference §5 (kernel <c>struct nvmf_auth_dhchap_negotiate_data</c> and <c>..._protocol_descriptor</c>).
/// <code>
/// 0–5     header (T_ID at 4)
/// 6       SC_C    secure channel concatenation: 0 none, 2 NEWTLSPSK, 3 REPLACETLSPSK
/// 7       NAPD    number of protocol descriptors (1)
/// 8–71    descriptor: 0 AUTHID (01h = DH-HMAC-CHAP), 1 reserved, 2 HALEN, 3 DHLEN,
///                     4–33 hash ids (HALEN used), 34–63 DH group ids (DHLEN used)
/// </code>
/// </summary>
public sealed record NegotiateMessage(ushort TransactionId, byte SecureChannel, IReadOnlyList<DhChapHashId> Hashes,
    IReadOnlyList<DhChapGroupId> Groups)
{
    public const int HeaderSize = 8;
    public const int DescriptorSize = 64;
    public const int Size = HeaderSize + DescriptorSize;
    public const int SecureChannelOffset = 6;
    public const int DescriptorCountOffset = 7;
    public const int AuthIdOffset = HeaderSize;
    public const int HashCountOffset = HeaderSize + 2;
    public const int GroupCountOffset = HeaderSize + 3;
    public const int HashListOffset = HeaderSize + 4;
    public const int GroupListOffset = HeaderSize + 34;
    public const int MaxIds = 30;
    public const byte DhChapAuthId = 0x01;

    public const byte NoSecureChannel = 0x00;
    public const byte NewTlsPsk = 0x02;
    public const byte ReplaceTlsPsk = 0x03;

    /// <summary>What a Linux host offers: every hash and every group.</summary>
    public static NegotiateMessage OfferAll(ushort transactionId) => new(transactionId, NoSecureChannel,
        [DhChapHashId.Sha256, DhChapHashId.Sha384, DhChapHashId.Sha512],
        [DhChapGroupId.Null, DhChapGroupId.Ffdhe2048, DhChapGroupId.Ffdhe3072, DhChapGroupId.Ffdhe4096,
         DhChapGroupId.Ffdhe6144, DhChapGroupId.Ffdhe8192]);

    public int Write(Span<byte> data)
    {
        if (Hashes.Count > MaxIds || Groups.Count > MaxIds)
        {
            throw new InvalidOperationException($"a descriptor lists at most {MaxIds} hashes and {MaxIds} groups");
        }
        data[..Size].Clear();
        new AuthMessageHeader(AuthMessageHeader.CommonMessages, AuthMessageId.Negotiate, TransactionId).Write(data);
        data[SecureChannelOffset] = SecureChannel;
        data[DescriptorCountOffset] = 1;
        data[AuthIdOffset] = DhChapAuthId;
        data[HashCountOffset] = (byte)Hashes.Count;
        data[GroupCountOffset] = (byte)Groups.Count;
        for (int i = 0; i < Hashes.Count; i++)
        {
            data[HashListOffset + i] = (byte)Hashes[i];
        }
        for (int i = 0; i < Groups.Count; i++)
        {
            data[GroupListOffset + i] = (byte)Groups[i];
        }
        return Size;
    }

    /// <summary>
    /// Reads a Negotiate; on failure <paramref name="reason"/> is the Failure1 explanation the kernel target gives:
    /// short data, a foreign AUTHID or over-long id lists are an incorrect payload, NAPD other than 1 "hash unusable".
    /// Unknown ids in the lists are kept; the selection skips them.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> data, out NegotiateMessage? message, out AuthFailureReason reason)
    {
        message = null;
        reason = AuthFailureReason.IncorrectPayload;
        if (!AuthMessageHeader.TryRead(data, Size, out var header))
        {
            return false;
        }
        if (data[DescriptorCountOffset] != 1)
        {
            reason = AuthFailureReason.HashUnusable;
            return false;
        }
        int hashCount = data[HashCountOffset];
        int groupCount = data[GroupCountOffset];
        if (data[AuthIdOffset] != DhChapAuthId || hashCount > MaxIds || groupCount > MaxIds)
        {
            return false;
        }
        var hashes = new DhChapHashId[hashCount];
        for (int i = 0; i < hashCount; i++)
        {
            hashes[i] = (DhChapHashId)data[HashListOffset + i];
        }
        var groups = new DhChapGroupId[groupCount];
        for (int i = 0; i < groupCount; i++)
        {
            groups[i] = (DhChapGroupId)data[GroupListOffset + i];
        }
        message = new NegotiateMessage(header.TransactionId, data[SecureChannelOffset], hashes, groups);
        return true;
    }
}
