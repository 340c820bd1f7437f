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

    [Fact]
    public void Joins_adjacent_encoded_words_across_a_fold()
    {
        // RFC 2047: the whitespace between two encoded words is not part of the text.
        var (subject, _) = MailText.Parse("Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=\n =?utf-8?B?IGF1cw==?= Wien\n\nx");
        Assert.Equal("Grüße aus Wien", subject);
    }

    [Fact]
    public void Decodes_quoted_printable_in_the_declared_charset()
    {
        string mail = "Subject: s\nContent-Type: text/plain; charset=windows-1252\nContent-Transfer-Encoding: quoted-printable\n\n" +
                      "Only 5=80 =\ntoday, =93quoted=94";
        Assert.Equal("Only 5€ today, “quoted”", MailText.Parse(mail).Body);
    }

    [Fact]
    public void Keeps_unencoded_text_as_given_whatever_charset_it_declares()
    {
        // The corpus's mails are already Unicode text, so an 8bit part is not decoded a second time.
        Assert.Equal("Café crème", MailText.Parse("Subject: s\nContent-Type: text/plain; charset=iso-8859-1\n\nCafé crème").Body);
    }

    [Fact]
    public void Takes_the_plain_text_alternative_of_multipart_alternative()
    {
        string mail = "Subject: s\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"B\"\n\n--B\n" +
                      "Content-Type: text/plain; charset=us-ascii\n\nplain version\n--B\n" +
                      "Content-Type: text/html; charset=us-ascii\n\n<p>html <b>version</b></p>\n--B--\n";
        Assert.Equal("plain version", MailText.Parse(mail).Body);
        Assert.Equal("html version", MailText.Parse(mail.Replace("--B\nContent-Type: text/plain; charset=us-ascii\n\nplain version\n", "")).Body);
    }

    [Fact]
    public void Skips_base64_attachments_even_when_they_are_text()
    {
        string mail = "Subject: s\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"M\"\n\n--M\n" +
                      "Content-Type: text/plain\n\nsee attached\n--M\n" +
                      "Content-Type: text/plain; name=\"notes.txt\"\nContent-Disposition: attachment; filename=\"notes.txt\"\n" +
                      "Content-Transfer-Encoding: base64\n\nc2VjcmV0IG5vdGVz\n--M\n" +
                      "Content-Type: application/pdf; name=\"a.pdf\"\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--M--\n";
        Assert.Equal("see attached", MailText.Parse(mail).Body);
    }

    [Theory]
    [InlineData("")]
    [InlineData("no headers, only words")]
    [InlineData("Subject: cut off")]
    [InlineData("Subject: s\nContent-Type: multipart/mixed\n\nno boundary at all")]
    [InlineData("Subject: s\nContent-Type: multipart/mixed; boundary=Z\n\n--Z\nContent-Type: text/plain\n\nnever closed")]
    [InlineData("Subject: =?bogus?X?abc?=\nContent-Type: text/plain; charset=x-unknown\nContent-Transfer-Encoding: base64\n\n!!not base64!!")]
    [InlineData("\0\u0001\u00ff\ufffd\n\n\u0002")]
    public void Never_throws_on_malformed_mail(string raw)
    {
        var (subject, body) = MailText.Parse(raw);
        Assert.NotNull(subject);
        Assert.DoesNotContain("  ", body);
    }
}
