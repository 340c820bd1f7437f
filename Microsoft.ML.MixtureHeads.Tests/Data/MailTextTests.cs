using Microsoft.ML.MixtureHeads.Datasets;

namespace Microsoft.ML.MixtureHeads.Tests.Data;

public sealed class MailTextTests
{
    [Fact]
    public void Decodes_encoded_word_subjects_and_folded_headers()
    {
        var (subject, body) = MailText.Parse("From: a@b\nSubject: =?iso-8859-1?Q?Caf=E9_au?=\n  lait\n\nHello there");
        Assert.Equal("Café au lait", subject);
        Assert.Equal("Hello there", body);
        Assert.Equal("héllo", MailText.Parse("Subject: =?utf-8?B?aMOpbGxv?=\n\nx").Subject);
    }

    [Fact]
    public void Decodes_quoted_printable_and_strips_html()
    {
        string mail = "Subject: s\nContent-Type: text/html; charset=\"iso-8859-1\"\nContent-Transfer-Encoding: quoted-printable\n\n" +
                      "<html><style>p{}</style><p>Buy&nbsp;now =\n50% off=3D</p><script>x()</script></html>";
        Assert.Equal("Buy now 50% off=", MailText.Parse(mail).Body);
    }

    [Fact]
    public void Walks_multipart_bodies_and_skips_attachments()
    {
        string mail = "Subject: s\nContent-Type: multipart/mixed; boundary=\"XX\"\n\npreamble\n--XX\nContent-Type: text/plain\n\nfirst part\n" +
                      "--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAAA\n" +
                      "--XX\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\nc2Vjb25kIHBhcnQ=\n--XX--\n";
        Assert.Equal("first part second part", MailText.Parse(mail).Body);
    }
}
