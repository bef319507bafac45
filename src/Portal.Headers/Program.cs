return Portal.Headers.HeadersCommandLine.Run(args, Console.Out, Console.Error);
