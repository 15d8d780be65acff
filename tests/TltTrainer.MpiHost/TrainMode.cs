namespace TltTrainer.MpiHost;

internal static class TrainMode
{
    public static int Run(TltTrainer.Distributed.ICommunicator c, HostArguments args) => throw new NotImplementedException();
}
