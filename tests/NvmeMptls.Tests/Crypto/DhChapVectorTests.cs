using System.Security.Cryptography;
using NvmeMptls.Crypto.Auth;
using NvmeMptls.Transport.Nvme.Auth;

namespace NvmeMptls.Tests.Crypto;

/// <summary>
/// DH-HMAC-CHAP known answers (reference §5). Sources, none of them our C# code: nvme-cli 2.3 <c>gen-dhchap-key</c>
/// run here (interchange strings, nvme-cli's transform); tests/vectors/dhchap_vectors.py (Python hashlib/hmac for the
/// transform, both responses and the augmented challenge; OpenSSL's built-in RFC 7919 primes and Python pow() for
/// FFDHE); the kernel's own kunit vectors (drivers/nvme/common/tests/auth_kunit.c) for the generated PSK.
/// </summary>
public sealed class DhChapVectorTests
{
    private const string HostNqn = "nqn.2014-08.org.nvmexpress:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";
    private const string SubsystemNqn = "nqn.2024-01.io.example:subsys1";
    private const uint Sequence = 0x01020304;
    private const ushort TransactionId = 0xBEEF;

    private static byte[] Counting(int length, int start = 0)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = (byte)(start + i);
        }
        return bytes;
    }

    [TestCase((byte)0, 32, "DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:")]
    [TestCase((byte)1, 32, "DHHC-1:01:jWiK0NeSweQjGFEI9c4bjHV792NxG/KQG1mAfCQAiRlmCljm:")]
    [TestCase((byte)2, 48, "DHHC-1:02:IqZJ7OfqOcbH0Af+bm4QWrh1+LEEV/Fp7yjgZUKwF68+VcPR6Us+ZRxzSiFThNry7h7rwQ==:")]
    [TestCase((byte)3, 64, "DHHC-1:03:dZSVu1YU+UUKhORpWPqucZgHHQG1yo+Fy3MvmoYq0rkraDbrQSsxdRkXevDYzd13QnWgQM58D3YhBCl3GcAnfY7ra+w=:")]
    public void Generate_FixedSecret_MatchesNvmeCli(byte hmac, int length, string expected)
    {
        using var secret = DhChapSecret.Generate(hmac, length, HostNqn, Counting(length));
        Assert.That(secret.ToInterchange(), Is.EqualTo(expected));
    }

    [Test]
    public void Parse_NvmeCliString_RoundTripsSecretAndCrc()
    {
        using var secret = DhChapSecret.Parse("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:");
        Assert.Multiple(() =>
        {
            Assert.That(secret.TransformHash, Is.Zero);
            Assert.That(secret.Secret.ToArray(), Is.EqualTo(Counting(48)));
            Assert.That(secret.ToInterchange(), Is.EqualTo("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vcSEgBQ==:"));
        });
    }

    [TestCase("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaS:", "CRC mismatch")]
    [TestCase("DHHC-1:04:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "invalid hash field")]
    [TestCase("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=:", "invalid secret length")]
    [TestCase("DHHC-2:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR:", "not a DH-HMAC-CHAP secret")]
    [TestCase("DHHC-1:00:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh+KfiaR", "not a DH-HMAC-CHAP secret")]
    [TestCase("DHHC-1:00:!!!!:", "base64")]
    public void TryParse_BadString_SaysWhy(string text, string reason)
    {
        Assert.That(DhChapSecret.TryParse(text, out var secret, out string? error), Is.False);
        Assert.That(secret, Is.Null);
        Assert.That(error, Does.Contain(reason));
    }

    [TestCase((byte)01, "8d688ad0d792c1e423185108f5ce1b8c757bf763711bf2901b59807c24008919", "f3b7847625e4f24b0795ec59fd1d7b32eb70baa92668b01e1c0612e635ed44f8")]
    [TestCase((byte)02, "b76133e09186ed86cd2c8756e30d05e21023f996b3a3b81524920de1fa9ec04d2ec49d823ea2e9f81d8a65636a79ab71", "eb32d21eef83d2f6f165ec28dca7ad67e5bf15f77a3860e06ebc5ba1df6a1e460c5a19311d96b4a7ec0eed61c7fa0589")]
    [TestCase((byte)03, "8ab681a449b63684aded203cf3191d9dce224b83fed58055f249e3f681e3e53be1c6822b6e808a0e8471a6ff97f5a952efee1f6b2daee1f4a67c7c703bf3aedc", "904d42062cdd0ce6ecd69d3c66e3f3b7c50aafdc40d17cebf0876b8aff2a99ddd1be64bf3b8dfb82a36e6075a70f9ffe42e3bbb17d6fcf9fbc49a11302f37b7e")]
    public void Transform_WithNqn_MatchesPython(byte hash, string hostKey, string subsystemKey)
    {
        using var secret = new DhChapSecret(hash, Counting(32));
        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexStringLower(secret.Transform(HostNqn)), Is.EqualTo(hostKey));
            Assert.That(Convert.ToHexStringLower(secret.Transform(SubsystemNqn)), Is.EqualTo(subsystemKey));
        });
    }

    [Test]
    public void Transform_Hash00_UsesSecretAsIs()
    {
        using var secret = new DhChapSecret(0, Counting(64));
        Assert.That(secret.Transform(HostNqn), Is.EqualTo(Counting(64)));
    }

    [TestCase(DhChapHashId.Sha256, "1b35874415c59918124e570c0a95217bc492fbb1c9fc030f98ab72df2bcb8a4f", "9d7d56ec953693e0777aa1a3f2044604fdc2bf90851e69b2124b4117f58b1720", "28a7c6367b293355404a93c6412a1e807b8c719e31166a46bffb3c2821c7e4ec", "e0af5d1d72319d3e330716313bd3334b2b3fb376efe31f28ff9c4857156f96a1")]
    [TestCase(DhChapHashId.Sha384, "b32698aceaf938fce7b143c22c47656c8b607ae022b357bc96c05cf7c5d482322502d1cfad3413dfbd9147d5e085f253", "1f0c20f4ee7324e18e0eac61fe82f49d2014f075e824b0d15f679469b626c869228a6b8c6311cf2c6787fd1a645e7f63", "c6f398035e6585b366df7a017d567c8e005ef1d938aa03ec5a720570ac6e1ee949403fbd0b452bb41954a3891aaa263d", "8abb1ee3161abf146eb5ad6660703d701ceca8a426e767d2f96dde9a79a1530f55d404f91e3e8fdc827f57475ea60380")]
    [TestCase(DhChapHashId.Sha512, "ee0cca11a6b06fe6943da1d105833a8ac031c6ef8294f97f3b4a320240e9b0c96009ce28d70768bd8e902f54bf2bb7382ca3dc221acb83fa58943c00977bd37f", "3665b476f19ea614729cb61622b16ac0b3fa9e5fe6d752f516af854fe89655597a98faa4b300a6e1d29a3d93fe957cfe423e113d6d2a32728d47aec4b8adeeaa", "2576001da53f4520f1f70cb295c9b5374ceb6b902174dc915dd23f9232c528fa282bd68bf9f6c37a6250e793eba7a39775e6becda46ab0bc94c94cc65a89dad0", "9ee119c45ba90f5053da5db0663e94295511ada1b8a606bd6352529b75817ef2454f80f8843f6cf8823a17cc4ff843bca3d4c5e7b7a98b7eb95bd789c1911e58")]
    public void Responses_FixedInputs_MatchPython(DhChapHashId hash, string r1, string r1Concat, string r2, string augmented)
    {
        int hl = DhChapHashes.Length(hash);
        byte[] challenge = Counting(hl, 0x80);
        using var hostSecret = new DhChapSecret((byte)hash, Counting(32));
        byte[] hostKey = hostSecret.Transform(HostNqn);
        byte[] controllerKey = hostSecret.Transform(SubsystemNqn);
        var output = new byte[hl];
        Assert.Multiple(() =>
        {
            DhChapResponses.HostResponse(hash, hostKey, challenge, Sequence, TransactionId, 0, HostNqn, SubsystemNqn, output);
            Assert.That(Convert.ToHexStringLower(output), Is.EqualTo(r1), "R1, SC_C 0");
            DhChapResponses.HostResponse(hash, hostKey, challenge, Sequence, TransactionId, 2, HostNqn, SubsystemNqn, output);
            Assert.That(Convert.ToHexStringLower(output), Is.EqualTo(r1Concat), "R1, SC_C 2");
            DhChapResponses.ControllerResponse(hash, controllerKey, challenge, Sequence, TransactionId, HostNqn, SubsystemNqn, output);
            Assert.That(Convert.ToHexStringLower(output), Is.EqualTo(r2), "R2");
            DhChapResponses.AugmentChallenge(hash, Counting(256), challenge, output);
            Assert.That(Convert.ToHexStringLower(output), Is.EqualTo(augmented), "C'");
        });
    }

    [Test]
    public void Ffdhe2048_BothSides_ShareTheSessionKey_PaddedToGroupSize()
    {
        var group = FfdheGroup.For(DhChapGroupId.Ffdhe2048)!;
        using var host = group.CreateKeyPair(Convert.FromHexString("6cc463907cb32643dc4efd88eef50e5f496f479bf98a0067f6518701bc350a49"));
        using var controller = group.CreateKeyPair(Convert.FromHexString("a65543143d557f0060910942d9a931a5b6bda35551746401bc1d0d9d2716258a"));
        var hostKey = new byte[group.Size];
        var controllerKey = new byte[group.Size];
        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexStringLower(host.PublicValue), Is.EqualTo("00f3fd888007696e1ebd9d9533a3598597d8683a4e87b0a8afeacdc2eb9b08a00eed730e1f347ad989333c100327693172806c77a449c1f64a0c9f4e8bb7704ad3f0f9b9eadeead79e1fe36eca88caa1dd16ad4fca2591c855e4e39e2c0de9c2cb78870aaa1bedfbf04f37218bdf05cdadafbb5ca82ccff213bc8424ca8cd8e8177a17f634addbadde32b159174b0787951e193b91e4b73e4bef97294c13e434695c868fde7ccfeb8922edb75cae2c1d76b8d5b36de9ce53b51b6e2530da10b47b4e0584636b50a9c6b171f660034dc0316d44e09a5432d0951285476229590409afa649620f2996c809dacab0197a8ac72a8666294953b5dfcbf64906edae0a"), "leading zero byte kept");
            Assert.That(Convert.ToHexStringLower(controller.PublicValue), Is.EqualTo("bd7201c236dc1049bf635e3ff461fe5872dcb405d98daa2f8e949190346dca231e2d255dc326893c80d53a86987604d8abdc5bc6a47392f47ddabfb63a1bbb07609a0b5a63083b1d0f52d909cbec400ddb76be303b58586f135a79e745892a759441f7d54e7a535524f558e93d359bf367af2d53e3fb2aa103665d54938f0a752bf1cd01e8311a792ff65eb22b86bc7e694036c0bd5cf9866caab370b9e3134483e1ecc401060f21bf99ca03f7b0915b1f145980fe38d88df8bbcdf4531d569fc21a736cc4d18d837286bfee20809ff351afb2af41480df611c71da19d3c1d6a9b9017f461551e77e7b23dca50c8bebcf013fc07078f189fe86b093351e72d3e"));
            Assert.That(host.TryDeriveSessionKey(controller.PublicValue, hostKey), Is.True);
            Assert.That(controller.TryDeriveSessionKey(host.PublicValue, controllerKey), Is.True);
            Assert.That(Convert.ToHexStringLower(hostKey), Is.EqualTo("cfae31fd06745503843fd06bb53f4e5f23c9ce031250a15516ed3a8faa4e08c2f57ee526e520f20ec09db4f10b944ab90e62641dd00635333a95a74b095222c88500690b15180318a916c66d0adfb1258aaef5714b5977acea6475dc01d836e9a8f9ae97838141d1b3b05baf3d3ff862a4feac4e62d681c5a2083753cd61ef50c35ded6dca85f692fbb506e75336a1db0e715a4ffec4ea38a16e8be97d36f5bc7ffb724dd3ce08e85ba75b20317b4ae15858b98ff131ec4047cdbf152bee47c6a95e83eb05c3f8b56dab41010adf10895febfec2e020e578376fc5bb0def6ba6b9e70d8699d1c0199b9eb679ed2bc5050a273a5b00961f9ef04fb88cee0504a4"));
            Assert.That(controllerKey, Is.EqualTo(hostKey));
        });
    }

    [TestCase(DhChapGroupId.Ffdhe2048, "9cd3b7f336872f46c09428d1bbc19877a4d440512cda8d1c1cf0cd6e33698966", "6cc463907cb32643dc4efd88eef50e5f496f479bf98a0067f6518701bc350a49", "a65543143d557f0060910942d9a931a5b6bda35551746401bc1d0d9d2716258a", "db7471e29a8b6c5a86f135b61ec47f1acaa5710dbbd4e943bc4be0668134206d", "2dd60afa28cfd1f26eec0948e2db0550f9d6501b871abe85c7d8f764c56db236")]
    [TestCase(DhChapGroupId.Ffdhe3072, "0eaf67db3a839156d5013494a5318a772b5697d270d721f37f092efc69ea5a17", "b11554d1b866d5ca8b74876fe87ef72cd184479b792252b509c9e98a1ddc54b9", "08e9580e2a88daaab120099eadd909c05c9e7f6f1da0525143321cd99ee819d5", "a1f24b88e18a7d6d08f11718f295fc445f6680b283ed5dd88f01c4a66a3a0b4b", "6f038775dbc9d8887effcbc32a9605ee6b43ca48e71c83dc507a76ddfcdae94d")]
    [TestCase(DhChapGroupId.Ffdhe4096, "4648414224ac881b3d0dc59b466f96d06a558278776807797ecf1f66ff397b3e", "8a8cc699fa038b306696260521986e883ef846ccc2d1c601a40a1eec43c2d24c", "47a85e4a2adce898b9eef7b50b289ffc3055529e3c5e71a503efbb179273c0f7", "de446423fcd3962fbff7bb9a6efef7408450ab2efe11044b084a231a345efb10", "2bb7455b60299e4e0d521fa9e9f85db27752fe979f6ceac43250a689590c58f3")]
    [TestCase(DhChapGroupId.Ffdhe6144, "227ac9066b3ddd9e193670cda2388fa884f65ba0cf98b742d1fe77a6687c79c7", "21bded96824ed824e102a926b92a0c575474d26df85efa4cd12dfab814e63e42", "986a1e9788d647a73b03ef8d07ef560180c12b113d2c000a1fb7001c96bfe4c1", "72b58815836e6455907a3626c3388d296b81427a195c7302095ca14b441e6597", "5d02c2b575ab669b481c13d1845d20b9d08959110a002deb22be50629a6a8701")]
    [TestCase(DhChapGroupId.Ffdhe8192, "770b14efaf6f049929c523113b3fa99a8d11dab1b18af3609590122075d19833", "cc346f82ea9012282b8a03dc89c6e2216f2c27241ce787f0f6ce1a0d312b91b2", "38905767b04062ab2c5810f0be1b904a1cc3167ac3461aeee9056970a0428bd5", "c46b8590772e5c62ed191e1ad575151fc71efa60c7ba004a5bdf4176fb6e3792", "fa560ed0fce52100e05e302a0707b2d1f2e72ed745b57291b8782494f9ea1102")]
    public void Ffdhe_FixedExponents_MatchOpenSslPrimeAndPython(DhChapGroupId id, string primeSha256, string hostExponent, string controllerExponent,
        string publicSha256, string sessionSha256)
    {
        var group = FfdheGroup.For(id)!;
        using var host = group.CreateKeyPair(Convert.FromHexString(hostExponent));
        using var controller = group.CreateKeyPair(Convert.FromHexString(controllerExponent));
        Assert.Multiple(() =>
        {
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(group.PrimeBytes)), Is.EqualTo(primeSha256));
            Assert.That(host.PublicValue.Length, Is.EqualTo(group.Size));
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(host.PublicValue)), Is.EqualTo(publicSha256));
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(SharedSessionKey(host, controller))), Is.EqualTo(sessionSha256));
        });
    }

    /// <summary>Both sides derive KS from the other's public value; they must agree.</summary>
    private static byte[] SharedSessionKey(FfdheKeyPair host, FfdheKeyPair controller)
    {
        var a = new byte[host.Group.Size];
        var b = new byte[controller.Group.Size];
        Assert.That(host.TryDeriveSessionKey(controller.PublicValue, a) && controller.TryDeriveSessionKey(host.PublicValue, b), Is.True);
        Assert.That(a, Is.EqualTo(b));
        return a;
    }

    [TestCase(DhChapGroupId.Ffdhe2048)]
    [TestCase(DhChapGroupId.Ffdhe8192)]
    public void Ffdhe_RandomKeyPairs_Agree(DhChapGroupId id)
    {
        var group = FfdheGroup.For(id)!;
        using var host = group.CreateKeyPair();
        using var controller = group.CreateKeyPair();
        Assert.That(SharedSessionKey(host, controller), Has.Length.EqualTo(group.Size));
    }

    [Test]
    public void Ffdhe_PeerValueOutOfRange_IsRefused()
    {
        var group = FfdheGroup.For(DhChapGroupId.Ffdhe2048)!;
        using var pair = group.CreateKeyPair();
        var key = new byte[group.Size];
        var one = new byte[group.Size];
        one[^1] = 1;
        var pMinusOne = group.PrimeBytes.ToArray();
        pMinusOne[^1] -= 1;
        Assert.Multiple(() =>
        {
            Assert.That(pair.TryDeriveSessionKey(new byte[group.Size], key), Is.False, "0");
            Assert.That(pair.TryDeriveSessionKey(one, key), Is.False, "1");
            Assert.That(pair.TryDeriveSessionKey(pMinusOne, key), Is.False, "p-1");
            Assert.That(pair.TryDeriveSessionKey(group.PrimeBytes, key), Is.False, "p");
            Assert.That(pair.TryDeriveSessionKey(new byte[group.Size - 1], key), Is.False, "short");
        });
    }

    /// <summary>drivers/nvme/common/tests/auth_kunit.c: skey[i] = 'A' + i, C1[i] = i, C2[i] = 0xff - i.</summary>
    [TestCase(DhChapHashId.Sha256, "1733c59fa7f48fcf37f5f26fc4ff0268ad4f78e030f4f3b0bfd1d47e7bb1447a")]
    [TestCase(DhChapHashId.Sha384, "f14b2dd3234c459694d3bc63f8968bd6b37c2c6de849e22e118749001ce4bbe8640b9e3a748cb11ce4b1d71d359cce39")]
    [TestCase(DhChapHashId.Sha512, "9c9f089a618b47d2d75f4b6c28070424487b445dd96e70c4c09b55e8b6000152a3363c3454043f38f0b85036ded40655350aa87b8b6a282b5c1acae16233dd5b")]
    public void GeneratedPsk_KernelKunitVector(DhChapHashId hash, string expected)
    {
        int hl = DhChapHashes.Length(hash);
        byte[] sessionKey = Counting(hl, 'A');
        byte[] c1 = Counting(hl);
        byte[] c2 = new byte[hl];
        for (int i = 0; i < hl; i++)
        {
            c2[i] = (byte)(0xff - i);
        }
        var psk = new byte[hl];
        DhChapResponses.GeneratedPsk(hash, sessionKey, c1, c2, psk);
        Assert.That(Convert.ToHexStringLower(psk), Is.EqualTo(expected));
    }
}
