return await Portal.Cli.PortalCommandLine.RunAsync(args, Portal.Cli.Terminal.CliConsole.ForProcess());
