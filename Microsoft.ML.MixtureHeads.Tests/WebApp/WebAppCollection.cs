namespace Microsoft.ML.MixtureHeads.Tests.WebApp;

/// <summary>The web app tests share one server and one pair of trained models.</summary>
[CollectionDefinition(Name)]
public sealed class WebAppCollection : ICollectionFixture<WebAppFixture>
{
    public const string Name = "web app";
}
