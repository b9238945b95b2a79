"""Six short scenes with text and shapes: chalkline's bundled example.

Render it with ``chalkline render examples/shapes.py -o out/shapes.mp4``.
Needs no LaTeX: only Text, shapes and transforms.
"""

from manim import (
    BLUE,
    DOWN,
    GREEN,
    ORANGE,
    RED,
    RIGHT,
    UP,
    YELLOW,
    Circle,
    Create,
    FadeIn,
    FadeOut,
    GrowFromCenter,
    Rotate,
    Scene,
    Square,
    Text,
    Transform,
    Triangle,
    VGroup,
    Write,
)


class TitleMixin:
    """A helper, not a scene: every scene opens with a small title at the top."""

    title = ""

    def show_title(self) -> Text:
        heading = Text(self.title, font_size=36).to_edge(UP)
        self.play(Write(heading), run_time=0.5)
        return heading


class Intro(TitleMixin, Scene):
    title = "chalkline"

    def construct(self) -> None:
        self.show_title()
        subtitle = Text("parallel Manim rendering", font_size=28, color=YELLOW)
        self.play(FadeIn(subtitle, shift=UP), run_time=0.7)
        self.wait(0.3)


class Shapes(TitleMixin, Scene):
    title = "Shapes"

    def construct(self) -> None:
        self.show_title()
        shapes = VGroup(Circle(color=BLUE), Square(color=GREEN), Triangle(color=RED))
        shapes.arrange(RIGHT, buff=0.6)
        self.play(*(Create(s) for s in shapes), run_time=1)


class Morph(TitleMixin, Scene):
    title = "Transform"

    def construct(self) -> None:
        self.show_title()
        square = Square(color=ORANGE)
        self.play(Create(square), run_time=0.5)
        self.play(Transform(square, Circle(color=BLUE)), run_time=0.8)


class Spin(TitleMixin, Scene):
    title = "Rotate"

    def construct(self) -> None:
        self.show_title()
        triangle = Triangle(color=GREEN).scale(1.5)
        self.play(GrowFromCenter(triangle), run_time=0.5)
        self.play(Rotate(triangle, angle=3.1416), run_time=0.8)


class Grid(TitleMixin, Scene):
    title = "Arrange"

    def construct(self) -> None:
        self.show_title()
        dots = VGroup(*(Square(side_length=0.5, color=BLUE) for _ in range(12)))
        dots.arrange_in_grid(rows=3, buff=0.25).shift(DOWN * 0.5)
        self.play(FadeIn(dots, lag_ratio=0.1), run_time=1)


class Outro(TitleMixin, Scene):
    title = "Thanks"

    def construct(self) -> None:
        self.show_title()
        words = Text("rendered in parallel, stitched with FFmpeg", font_size=24)
        self.play(Write(words), run_time=0.8)
        self.play(FadeOut(words), run_time=0.4)
