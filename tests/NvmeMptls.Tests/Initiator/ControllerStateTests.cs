using NvmeMptls.Initiator;
using S = NvmeMptls.Initiator.NvmeControllerState;

namespace NvmeMptls.Tests.Initiator;

/// <summary>The controller life cycle that <c>SetStateLocked</c> enforces.</summary>
public sealed class ControllerStateTests
{
    private static readonly (S From, S To)[] Legal =
    [
        (S.Connecting, S.Live), (S.Live, S.Resetting), (S.Resetting, S.Live), (S.Resetting, S.Failed),
        (S.Connecting, S.Closed), (S.Live, S.Closed), (S.Resetting, S.Closed), (S.Failed, S.Closed),
    ];

    [Test]
    public void Transition_IsLegal_ExactlyForTheLifeCycleEdges()
    {
        foreach (var from in Enum.GetValues<S>())
        {
            foreach (var to in Enum.GetValues<S>())
            {
                Assert.That(NvmeController.IsLegal(from, to), Is.EqualTo(Legal.Contains((from, to))), $"{from} -> {to}");
            }
        }
    }
}
