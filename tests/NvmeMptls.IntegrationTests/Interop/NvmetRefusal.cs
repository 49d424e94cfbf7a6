using NvmeMptls.Initiator;

namespace NvmeMptls.IntegrationTests.Interop;

/// <summary>
/// Linux nvmet answers a wrong DH-HMAC-CHAP response with Failure1 and then tears the queue down; on a busy machine
/// the socket was seen to close (6.12 and 7.2 guests) while the AUTH_Receive data carrying Failure1 was still on its
/// way, so the host saw "connection lost during Connect" instead. That is a refusal too, but not the one these tests
/// are about, so the attempt is repeated (up to three times) until nvmet's Failure1 itself is read; every attempt must
/// fail in the Connect, never later.
/// </summary>
internal static class NvmetRefusal
{
    public static async Task<NvmeAuthenticationException> ExpectFailure1Async(Func<NvmeControllerOptions> options, Func<string> console)
    {
        var lost = new List<string>();
        for (var attempt = 1; attempt <= 3; attempt++)
        {
            try
            {
                await using var controller = await NvmeController.ConnectAsync(options());
                Assert.Fail("a controller came up with the wrong secret\n" + console());
            }
            catch (NvmeAuthenticationException refused)
            {
                TestContext.Out.WriteLine($"attempt {attempt}: {refused.Message}" + (lost.Count > 0 ? $" (earlier: {string.Join("; ", lost)})" : ""));
                return refused;
            }
            catch (IOException connectionLost) when (connectionLost.Message.Contains("during Connect", StringComparison.Ordinal))
            {
                lost.Add($"attempt {attempt}: {connectionLost.Message}");
            }
        }

        Assert.Fail("three attempts ended with the connection lost before nvmet's Failure1 was read: " + string.Join("; ", lost) + "\n" + console());
        throw new InvalidOperationException("unreachable");
    }
}
