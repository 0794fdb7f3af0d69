namespace IoTServerless.Testing;

public static class RepoPaths
{
    /// <summary>The repository root: the nearest ancestor of the test binaries holding IoTServerless.sln.</summary>
    public static string Root { get; } = FindRoot();

    public static string Local => Path.Combine(Root, ".local");

    static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "IoTServerless.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("Could not find the repository root (IoTServerless.sln) above " + AppContext.BaseDirectory);
    }
}
