using NvmeMptls.Target.Subsystems;

namespace NvmeMptls.Target.Configuration;

internal static partial class TargetOptionsValidator
{
    /// <summary>Target:Gateway: names, the pool, the lease timings, the managed groups and the members with their ports.</summary>
    private static void ValidateGateway(TargetOptions options, List<string> errors)
    {
        if (options.Gateway is not { } gw)
        {
            return;
        }

        const string key = Root + ":Gateway";
        CheckGatewayName(gw.Group, $"{key}:Group", "the gateway group's name", errors);
        CheckGatewayName(gw.Name, $"{key}:Name", "this gateway's member name", errors);
        CheckGatewayName(gw.Pool, $"{key}:Pool", "the RADOS pool of the lease objects", errors);
        if (gw.RadosNamespace is { } ns && !IsGatewayName(ns))
        {
            errors.Add($"{key}:RadosNamespace: must be a RADOS namespace name without '/', '@' or whitespace (was '{ns}')");
        }

        if (gw.CephConf is { } conf && !File.Exists(conf))
        {
            errors.Add($"{key}:CephConf: must be the path of a ceph.conf file that exists (was '{conf}')");
        }

        if (gw.CephId is { } id && (id.StartsWith("client.", StringComparison.Ordinal) || !IsGatewayName(id)))
        {
            errors.Add($"{key}:CephId: must be a client id without 'client.', e.g. admin (was '{id}')");
        }

        if (gw.LeaseDuration < TimeSpan.FromSeconds(3) || gw.LeaseDuration > TimeSpan.FromMinutes(10))
        {
            errors.Add($"{key}:LeaseDuration: must be from 00:00:03 to 00:10:00 (was {gw.LeaseDuration})");
        }

        if (gw.SafetyMargin is { } margin && (margin <= TimeSpan.Zero || margin > gw.LeaseDuration / 2))
        {
            errors.Add($"{key}:SafetyMargin: must be greater than zero and at most half of LeaseDuration (was {margin}, LeaseDuration {gw.LeaseDuration})");
        }

        var members = new HashSet<string>(StringComparer.Ordinal);
        if (gw.Members.Length > GatewayOptions.MaxMembers)
        {
            errors.Add($"{key}:Members: at most {GatewayOptions.MaxMembers} gateways (each hands out its own range of 4096 controller ids), not {gw.Members.Length}");
        }

        if (gw.Members.IsEmpty)
        {
            errors.Add($"{key}:Members: must list every gateway of the group (Name and Ports), this one included");
        }

        for (int m = 0; m < gw.Members.Length; m++)
        {
            var member = gw.Members[m];
            string memberKey = $"{key}:Members:{m}";
            CheckGatewayName(member.Name, $"{memberKey}:Name", "a member name", errors);
            if (member.Name.Length > 0 && !members.Add(member.Name))
            {
                errors.Add($"{memberKey}:Name: '{member.Name}' is listed twice");
            }

            if (member.ControlUrl is { } url && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
            {
                errors.Add($"{memberKey}:ControlUrl: must be an absolute http:// URL such as http://10.0.0.2:9464/metrics (was '{url}')");
            }

            if (member.Ports.IsEmpty)
            {
                errors.Add($"{memberKey}:Ports: at least one port (Address, Port) is required");
            }

            for (int p = 0; p < member.Ports.Length; p++)
            {
                var port = member.Ports[p];
                if (!System.Net.IPAddress.TryParse(port.Address, out _))
                {
                    errors.Add($"{memberKey}:Ports:{p}:Address: must be an IP address (was '{port.Address}')");
                }

                if (port.Port is < 1 or > 65535)
                {
                    errors.Add($"{memberKey}:Ports:{p}:Port: must be from 1 to 65535 (was {port.Port})");
                }

                if (port.Transport != "tcp")
                {
                    errors.Add($"{memberKey}:Ports:{p}:Transport: must be tcp (was '{port.Transport}')");
                }
            }
        }

        if (gw.Name.Length > 0 && gw.Members.Length > 0 && !members.Contains(gw.Name))
        {
            errors.Add($"{key}:Name: '{gw.Name}' is not one of {key}:Members ({string.Join(", ", members)})");
        }

        if (gw.AnaGroups.IsEmpty)
        {
            errors.Add($"{key}:AnaGroups: must list the ANA groups the gateway group manages (Id, optionally PreferredOwner)");
        }

        var ids = new HashSet<uint>();
        for (int g = 0; g < gw.AnaGroups.Length; g++)
        {
            var group = gw.AnaGroups[g];
            if (!AnaGroups.IsValidGroupId(group.Id))
            {
                errors.Add($"{key}:AnaGroups:{g}:Id: must be an ANA group id from 1 to {AnaGroups.MaxGroupId} (was {group.Id})");
            }
            else if (!ids.Add(group.Id))
            {
                errors.Add($"{key}:AnaGroups:{g}:Id: ANA group {group.Id} is listed twice");
            }

            if (group.PreferredOwner is { } owner && members.Count > 0 && !members.Contains(owner))
            {
                errors.Add($"{key}:AnaGroups:{g}:PreferredOwner: '{owner}' is not one of {key}:Members ({string.Join(", ", members)})");
            }
        }
    }

    private static void CheckGatewayName(string value, string key, string what, List<string> errors)
    {
        if (value.Length == 0)
        {
            errors.Add($"{key}: is required ({what})");
        }
        else if (!IsGatewayName(value) || value.Contains(';', StringComparison.Ordinal) || value.Contains(',', StringComparison.Ordinal) || value.Contains('>', StringComparison.Ordinal))
        {
            errors.Add($"{key}: must be {what} without '/', '@', ';', ',', '>' or whitespace (was '{value}')");
        }
    }

    private static bool IsGatewayName(string value) =>
        value.Length > 0 && value.All(c => c is not ('/' or '@') && !char.IsWhiteSpace(c) && !char.IsControl(c));
}
