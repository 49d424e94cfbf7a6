using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Configuration;

internal static partial class TargetOptionsValidator
{
    /// <summary>
    /// ANA group ids are 1..ANAGRPMAX (NVMe Base 2.0 §8.1.2); ANATT is a non-zero byte of seconds. A namespace's
    /// reservation state file must be in an existing directory.
    /// </summary>
    private static void ValidateAna(TargetOptions options, List<string> errors)
    {
        if (options.Ana.TransitionTimeSeconds is < 1 or > 255)
        {
            errors.Add($"{Root}:Ana:TransitionTimeSeconds: must be from 1 to 255 seconds (was {options.Ana.TransitionTimeSeconds})");
        }

        for (int s = 0; s < options.Subsystems.Length; s++)
        {
            for (int n = 0; n < options.Subsystems[s].Namespaces.Length; n++)
            {
                string? stateFile = options.Subsystems[s].Namespaces[n].ReservationStateFile;
                if (stateFile is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(stateFile))))
                {
                    errors.Add($"{Root}:Subsystems:{s}:Namespaces:{n}:ReservationStateFile: the directory of '{stateFile}' does not exist");
                }

                uint group = options.Subsystems[s].Namespaces[n].AnaGroup;
                if (!AnaGroups.IsValidGroupId(group))
                {
                    errors.Add($"{Root}:Subsystems:{s}:Namespaces:{n}:AnaGroup: must be an ANA group id from 1 to {AnaGroups.MaxGroupId} (was {group})");
                }
            }
        }

        for (int p = 0; p < options.Ports.Length; p++)
        {
            foreach (uint group in options.Ports[p].AnaStates.States.Keys)
            {
                if (!AnaGroups.IsValidGroupId(group))
                {
                    errors.Add($"{Root}:Ports:{p}:AnaStates:{group}: the key must be an ANA group id from 1 to {AnaGroups.MaxGroupId}");
                }
            }
        }
    }
}
