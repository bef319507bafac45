// The worker (WorkerMain: libclang under limits, in a process of its own) starts here too, before the command
// line is built: it pays for no more than it uses.
return args is [Portal.Headers.Isolation.WorkerMain.Argument]
    ? Portal.Headers.Isolation.WorkerMain.Serve()
    : Portal.Headers.HeadersCommandLine.Run(args, Console.Out, Console.Error);
