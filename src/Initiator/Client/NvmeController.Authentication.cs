namespace NvmeMptls.Initiator;

public sealed partial class NvmeController
{
    /// <summary>
    /// Re-authenticates in band (DH-HMAC-CHAP, NVMe Base 2.0 §8.13) on every queue of the live association with the
    /// configured secrets: the admin queue first, then the I/O queues together, while I/O keeps running (as a Linux host
    /// does when its secret is rewritten in sysfs). A refusal throws <see cref="NvmeAuthenticationException"/>; the
    /// target then closes that queue, which the controller handles like any lost queue (reconnect within
    /// <see cref="NvmeControllerOptions.ControllerLossTimeout"/>, where authentication runs again).
    /// </summary>
    /// <exception cref="InvalidOperationException">The controller did not ask for authentication (no ATR in Connect).</exception>
    public async Task ReauthenticateAsync(CancellationToken cancellationToken = default)
    {
        Association association;
        lock (_lock)
        {
            ThrowIfUnusable();
            association = _current ?? throw new InvalidOperationException($"controller {Options.SubsystemNqn} is {State}, not live");
        }

        if (!association.Admin.RequiresAuthentication)
        {
            throw new InvalidOperationException($"controller {Options.SubsystemNqn} did not ask for in-band authentication (no ATR in Connect)");
        }

        await association.Admin.ReauthenticateAsync(cancellationToken).ConfigureAwait(false);
        var queues = new Task[association.Io.Length];
        for (var i = 0; i < queues.Length; i++)
        {
            queues[i] = association.Io[i].ReauthenticateAsync(cancellationToken);
        }

        await Task.WhenAll(queues).ConfigureAwait(false);
    }
}
