"""The site's URLs plus the benchmark's floor: a trivial view rendering a small template."""

from django.http import HttpResponse
from django.template import engines
from django.urls import path

from config.urls import urlpatterns as site

FLOOR_TEMPLATE = engines["django"].from_string(
    '<!doctype html><html lang="en"><head><title>{{ title }}</title></head>'
    "<body><h1>{{ title }}</h1><ul>{% for item in items %}<li>{{ item }}</li>{% endfor %}</ul></body></html>"
)


def floor(request):
    return HttpResponse(FLOOR_TEMPLATE.render({"title": "Floor", "items": ["one", "two", "three"]}, request))


urlpatterns = [path("bench/floor/", floor, name="bench_floor"), *site]
