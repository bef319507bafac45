// Under `dotnet run`, die with the wrapper (in order: SIGTERM) rather than outlive it with QEMU.
Portal.Cli.Running.ParentWatch.BindToDotnetRunWrapper();
return await Portal.Cli.PortalCommandLine.RunAsync(args, Portal.Cli.Terminal.CliConsole.ForProcess());
