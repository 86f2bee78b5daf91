"""The Customer 360 web app (`c360 serve`): docs/app.md."""
